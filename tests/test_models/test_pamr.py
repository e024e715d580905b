"""PAMR (pixel-adaptive mask refinement): the formula by loops, its behaviour at colour edges,
and the segmentor's ``pamr`` option."""
import statistics

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from maskclip.models.pamr import DIRECTIONS, PAMR

from ..conftest import TINY_VIT


def direct_pamr(image, masks, iterations, dilations):
    """PAMR pixel by pixel, following the module docstring (replicate padding = clamping)."""
    _, c, h, w = image.shape
    offsets = [(dy * d, dx * d) for d in dilations for dy, dx in DIRECTIONS]

    def at(tensor, y, x):
        return tensor[0, :, min(max(y, 0), h - 1), min(max(x, 0), w - 1)]

    alpha = torch.zeros(len(offsets), h, w, dtype=torch.float64)
    for y in range(h):
        for x in range(w):
            samples = []  # every dilation's 3x3 samples, centre included
            for d in dilations:
                samples += [at(image, y + dy * d, x + dx * d).tolist()
                            for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            sigma = [statistics.stdev(s[ch] for s in samples) for ch in range(c)]
            logits = torch.tensor([
                -sum(abs(float(image[0, ch, y, x]) - float(at(image, y + oy, x + ox)[ch]))
                     / (1e-8 + 0.1 * sigma[ch]) for ch in range(c)) / c
                for oy, ox in offsets], dtype=torch.float64)
            alpha[:, y, x] = logits.softmax(0)
    m = masks.double()
    for _ in range(iterations):
        new = torch.zeros_like(m)
        for y in range(h):
            for x in range(w):
                new[0, :, y, x] = sum(alpha[p, y, x] * at(m, y + oy, x + ox)
                                      for p, (oy, ox) in enumerate(offsets))
        m = new
    return m.float()


def test_pamr_equals_the_direct_loops():
    image, masks = torch.rand(1, 3, 6, 7) * 255, torch.randn(1, 2, 6, 7)
    pamr = PAMR(iterations=3, dilations=(1, 2, 4))
    torch.testing.assert_close(pamr(image, masks), direct_pamr(image, masks, 3, (1, 2, 4)),
                               atol=1e-5, rtol=1e-4)
    alpha = pamr.affinities(image)
    assert alpha.shape == (1, 24, 6, 7)
    torch.testing.assert_close(alpha.sum(1), torch.ones(1, 6, 7))


def test_pamr_is_linear_in_the_masks_and_ignores_colour_normalisation():
    image, masks = torch.rand(1, 3, 12, 10) * 255, torch.randn(1, 4, 12, 10)
    pamr = PAMR(iterations=5, dilations=(1, 2, 4))
    refined = pamr(image, masks)
    torch.testing.assert_close(pamr(image, 40 * masks), 40 * refined, atol=1e-4, rtol=1e-4)
    mean, std = torch.tensor([120., 110., 100.]), torch.tensor([60., 65., 70.])
    normalised = (image - mean[:, None, None]) / std[:, None, None]
    torch.testing.assert_close(pamr(normalised, masks), refined, atol=1e-4, rtol=1e-4)
    assert PAMR(iterations=0)(image, masks).equal(masks)


def two_colour_scene(size=32, edge=14):
    """A 2-region image (left grey, right red, edge at column ``edge``) and its labels."""
    image = torch.empty(1, 3, size, size)
    image[..., :edge] = torch.tensor([90., 90., 90.])[:, None, None]
    image[..., edge:] = torch.tensor([220., 40., 30.])[:, None, None]
    labels = torch.zeros(size, size, dtype=torch.long)
    labels[:, edge:] = 1
    return image, labels


def one_hot_logits(labels, classes=2):
    return torch.nn.functional.one_hot(labels, classes).permute(2, 0, 1)[None].float()


def test_pamr_keeps_labels_that_follow_the_colours():
    image, labels = two_colour_scene()
    masks = one_hot_logits(labels)
    refined = PAMR()(image, masks)  # defaults: 10 iterations, dilations up to 24
    assert refined.argmax(1)[0].equal(labels)
    torch.testing.assert_close(refined, masks, atol=1e-4, rtol=0)  # nothing leaks over the edge
    constant = torch.full((1, 3, 20, 20), 77.)  # one colour, one label: nothing to change
    flat = torch.randn(1, 1, 1, 1).expand(1, 3, 20, 20).contiguous()
    torch.testing.assert_close(PAMR()(constant, flat), flat)


def test_pamr_smooths_a_noisy_label_near_an_edge():
    image, labels = two_colour_scene(edge=14)
    noisy = labels.clone()
    noisy[10, 12] = 1  # two pixels left of the colour edge, labelled as the right side
    noisy[20, 15] = 0  # one pixel right of it, labelled as the left side
    refined = PAMR(iterations=10, dilations=(1, 2, 4, 8)).forward(image, one_hot_logits(noisy))
    assert refined.argmax(1)[0].equal(labels)


def segmentor_with(cfg, pamr):
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(dict(cfg, pamr=pamr)).eval()


def test_segmentor_applies_pamr_after_inference():
    cfg = dict(type='MaskClipSegmentor', clip=dict(model_name=TINY_VIT, pretrained=None),
               backbone=dict(type='MaskClipViT'),
               decode_head=dict(type='MaskClipHead', class_names=['sky', 'grass', 'road'],
                                templates='single', logit_scale=40.0),
               test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    with DefaultScope.overwrite_default_scope('mmseg'):
        plain = MODELS.build(cfg).eval()
        refined = MODELS.build(dict(cfg, pamr=dict(iterations=4, dilations=(1, 2)))).eval()
    assert not list(refined.pamr.state_dict())  # PAMR adds nothing to checkpoints
    assert plain.pamr is None
    assert segmentor_with(cfg, dict(iterations=0, dilations=(1, 2))).pamr is None  # off
    inputs = torch.randn(1, 3, 48, 64)
    meta = [dict(img_shape=(48, 64), ori_shape=(48, 64), pad_shape=(48, 64))]
    with torch.no_grad():
        logits = plain.inference(inputs, [dict(m) for m in meta])
        out = refined.inference(inputs, [dict(m) for m in meta])
    expected = PAMR(iterations=4, dilations=(1, 2))(inputs, logits)
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out, logits)
    with pytest.raises(ValueError, match='dilations'):
        PAMR(dilations=(0, 1))
