"""Batched sliding windows equal mmseg's window-by-window loop (the authors' protocol)."""
import pytest
import torch
from mmseg.models.segmentors import EncoderDecoder

import maskclip

from ..conftest import TINY_VIT


@pytest.mark.parametrize('size', [(48, 80), (40, 40), (20, 100)])
def test_batched_windows_equal_window_by_window(size):
    """Windows of two images (a non-square grid; an image smaller than the crop in one side)
    in batches of 1, 3 and 16 against mmseg's own slide_inference, logits to 1e-5."""
    segmenter = maskclip.create_segmenter(
        TINY_VIT, None, ['cat', 'dog', 'grass'], templates='single', key_smoothing=True,
        prompt_denoising=True, test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    model = segmenter.model
    inputs = torch.randn(2, 3, *size)
    metas = [dict(img_shape=size, ori_shape=size, pad_shape=size) for _ in range(2)]
    with torch.no_grad():
        reference = EncoderDecoder.slide_inference(model, inputs, [dict(m) for m in metas])
        for window_batch in (1, 3, 16):
            model.test_cfg['window_batch_size'] = window_batch
            ours = model.slide_inference(inputs, [dict(m) for m in metas])
            torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    assert reference.shape == (2, 3, *size)
    model.test_cfg['window_batch_size'] = 0
    with pytest.raises(ValueError, match='window_batch_size must be an integer'):
        model.slide_inference(inputs, metas)


def test_counts_every_window_once():
    """The number of forward passes: ceil(windows x images / window batch)."""
    segmenter = maskclip.create_segmenter(
        TINY_VIT, None, ['cat', 'dog'], templates='single',
        test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16), window_batch_size=4))
    model = segmenter.model
    calls = []
    encode = model.encode_decode
    model.encode_decode = lambda crops, metas: calls.append(len(crops)) or encode(crops, metas)
    size = (48, 80)  # 2 x 4 windows
    with torch.no_grad():
        model.slide_inference(torch.randn(3, 3, *size), [dict(img_shape=size)] * 3)
    assert calls == [4, 4, 4, 4, 4, 4] and sum(calls) == 3 * 8
