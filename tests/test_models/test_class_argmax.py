"""class_argmax: argmax's indices, computed faster."""
import torch

from maskclip.models.class_argmax import class_argmax


def test_class_argmax_is_argmax_with_ties_and_nan():
    scores = torch.randint(0, 3, (2, 7, 9, 11)).float()  # many ties
    scores[0, 2, 4, 4] = scores[0, 5, 4, 4] = float('nan')
    for dim, keepdim in ((1, False), (1, True), (0, True)):
        assert torch.equal(class_argmax(scores, dim, keepdim), scores.argmax(dim, keepdim))
    assert class_argmax(scores)[0, 4, 4] == 2  # the first NaN, as argmax
