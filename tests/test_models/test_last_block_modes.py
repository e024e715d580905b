"""SCLIP, ClearCLIP and NACLIP last-block modes of the ViT encoder against their formulas.

Every expected value is written out here from open_clip's raw weights of a tiny random ViT;
``maskclip`` and ``baseline`` are compared with the outputs they gave before these modes existed,
stored as tensors with their weights (tests/data/vit_modes_regression.pt, written by
.dev_scripts/generate_regression_tensors.py).
"""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import maskclip
from maskclip.clip import load_clip
from maskclip.models import MaskClipResNet, MaskClipViT

from ..conftest import ROOT, TINY_RN, TINY_VIT

NEW_MODES = ['sclip', 'clearclip', 'naclip']
ALL_MODES = ['maskclip', 'baseline'] + NEW_MODES
SIZES = [(224, 224), (48, 80)]  # native 14x14 grid, and a non-square 3x5 grid


def clip_cfg(name):
    return dict(model_name=name, pretrained=None)


@pytest.fixture(scope='module')
def visual():
    return load_clip(TINY_VIT, None).visual


@pytest.fixture(scope='module')
def encoders():
    return {mode: MaskClipViT(clip_cfg(TINY_VIT), mode=mode) for mode in ALL_MODES}


# ---------------------------------------------------------------- direct computations


def last_block_inputs(visual, images):
    """Tokens entering the last block: patch embedding, class token, bicubically resized
    positional embedding, ln_pre and all blocks but the last (open_clip's modules)."""
    x = visual.conv1(images)
    b, d, h, w = x.shape
    x = x.flatten(2).transpose(1, 2)
    pos = visual.positional_embedding
    h0, w0 = visual.grid_size
    grid = pos[1:].reshape(1, h0, w0, d).permute(0, 3, 1, 2)
    if (h, w) != (h0, w0):
        grid = F.interpolate(grid, size=(h, w), mode='bicubic', align_corners=False)
    pos = torch.cat([pos[:1], grid.flatten(2)[0].T])
    x = torch.cat([visual.class_embedding.expand(b, 1, d), x], dim=1) + pos
    x = visual.ln_pre(x)
    for block in visual.transformer.resblocks[:-1]:
        x = block(x)
    return x


def gaussian_prior(h, w, std):
    """G of NACLIP, entry by entry: zero on the class token's row and column."""
    n = h * w
    g = torch.zeros(n + 1, n + 1)
    for i in range(n):
        for j in range(n):
            d2 = (i // w - j // w) ** 2 + (i % w - j % w) ** 2
            g[1 + i, 1 + j] = math.exp(-d2 / (2 * std ** 2))
    return g


def expected_dense(visual, images, mode, std=5.0):
    """Dense features of ``mode`` written out from the last block's raw weights."""
    x = last_block_inputs(visual, images)
    last = visual.transformer.resblocks[-1]
    assert isinstance(last.ls_1, torch.nn.Identity) and isinstance(last.ls_2, torch.nn.Identity)
    attn = last.attn
    b, n, d = x.shape
    heads = attn.num_heads
    scale = (d // heads) ** -0.5
    y = last.ln_1(x)
    q = y @ attn.in_proj_weight[:d].T + attn.in_proj_bias[:d]
    k = y @ attn.in_proj_weight[d:2 * d].T + attn.in_proj_bias[d:2 * d]
    v = y @ attn.in_proj_weight[2 * d:].T + attn.in_proj_bias[2 * d:]

    def per_head(t):  # (B, N, D) -> (B, heads, N, D / heads)
        return t.reshape(b, n, heads, d // heads).permute(0, 2, 1, 3)

    q, k, v = per_head(q), per_head(k), per_head(v)
    h, w = images.shape[-2] // 16, images.shape[-1] // 16
    if mode == 'sclip':
        weights = (torch.softmax(q @ q.transpose(-1, -2) * scale, dim=-1)
                   + torch.softmax(k @ k.transpose(-1, -2) * scale, dim=-1))
    elif mode == 'clearclip':
        weights = torch.softmax(q @ q.transpose(-1, -2) * scale, dim=-1)
    elif mode == 'naclip':
        weights = torch.softmax(k @ k.transpose(-1, -2) * scale + gaussian_prior(h, w, std), dim=-1)
    out = (weights @ v).permute(0, 2, 1, 3).reshape(b, n, d)
    out = out @ attn.out_proj.weight.T + attn.out_proj.bias
    if mode == 'sclip':  # residual and FFN kept
        out = x + out
        out = out + last.mlp(last.ln_2(out))
    dense = visual.ln_post(out[:, 1:]) @ visual.proj  # clearclip, naclip: attn_out alone
    return dense.transpose(1, 2).reshape(b, -1, h, w)


# ---------------------------------------------------------------- tests


@torch.no_grad()
@pytest.mark.parametrize('size', SIZES, ids=['224x224', '48x80'])
@pytest.mark.parametrize('mode', NEW_MODES)
def test_dense_features_equal_the_formula(visual, encoders, mode, size):
    images = torch.randn(2, 3, *size)
    out = encoders[mode](images)
    expected = expected_dense(visual, images, mode)
    assert out.dense.shape == expected.shape == (2, 32, size[0] // 16, size[1] // 16)
    torch.testing.assert_close(out.dense, expected, atol=1e-5, rtol=0)
    # the mode really changes the features, and the keys are the same raw keys in every mode
    reference = encoders['maskclip'](images)
    assert not torch.allclose(out.dense, reference.dense, atol=1e-3)
    torch.testing.assert_close(out.keys, reference.keys)
    torch.testing.assert_close(out.pos_embed, reference.pos_embed)


def test_inputs_of_the_direct_computation_match_open_clip(visual):
    images = torch.randn(1, 3, 224, 224)
    x = visual._embeds(images)
    for block in visual.transformer.resblocks[:-1]:
        x = block(x)
    torch.testing.assert_close(last_block_inputs(visual, images), x)


@torch.no_grad()
@pytest.mark.parametrize('mode', ALL_MODES)
def test_global_embedding_equals_encode_image(encoders, mode):
    clip = load_clip(TINY_VIT, None)
    images = torch.randn(2, 3, 224, 224)
    torch.testing.assert_close(encoders[mode](images).global_embedding, clip.encode_image(images),
                               atol=1e-5, rtol=0)


@torch.no_grad()
@pytest.mark.parametrize('mode', ['maskclip', 'baseline'])
def test_original_modes_give_their_stored_outputs(mode):
    """Three inputs (native grid, non-square grid, a size not divisible by the patch), keys with
    and without out_proj: dense features, keys, global embedding and positional grid as stored."""
    stored = torch.load(osp.join(ROOT, 'tests', 'data', 'vit_modes_regression.pt'),
                        weights_only=True)
    encoder = MaskClipViT(clip_cfg(stored['model_name']), mode=mode)
    encoder.visual.load_state_dict({k: v.float() for k, v in stored['visual'].items()})
    assert len(stored['cases']) == 3
    for case in stored['cases']:
        encoder.keys_through_out_proj = case['keys_through_out_proj']
        out = encoder(case['images'].float())
        for field, expected in case['outputs'][mode].items():
            torch.testing.assert_close(getattr(out, field), expected, atol=1e-6, rtol=1e-5,
                                       msg=lambda m: f'{mode} {field}: {m}')


def test_naclip_gaussian_prior():
    encoder = MaskClipViT(clip_cfg(TINY_VIT), mode='naclip')
    g = encoder.naclip_gaussian((3, 5))
    assert g.shape == (16, 16) and g.dtype == torch.float32
    # patches (row 0, col 0) and (row 2, col 3): index 0 and 2 * 5 + 3 = 13, d^2 = 4 + 9
    assert g[1 + 0, 1 + 13].item() == pytest.approx(math.exp(-13 / (2 * 5 ** 2)), rel=1e-6)
    assert g[1 + 13, 1 + 0] == g[1 + 0, 1 + 13]
    # patches (1, 4) and (0, 1): index 9 and 1, d^2 = 1 + 9
    assert g[1 + 9, 1 + 1].item() == pytest.approx(math.exp(-10 / 50), rel=1e-6)
    assert torch.all(g[1:, 1:].diagonal() == 1)
    assert torch.all(g[0] == 0) and torch.all(g[:, 0] == 0)
    torch.testing.assert_close(g, gaussian_prior(3, 5, 5.0))
    assert encoder.naclip_gaussian((3, 5)) is g  # built once per grid size
    assert encoder.naclip_gaussian((5, 3)).shape == (16, 16)
    assert not torch.equal(encoder.naclip_gaussian((5, 3)), g)
    assert encoder.naclip_gaussian((3, 5), dtype=torch.float64).dtype == torch.float64

    narrow = MaskClipViT(clip_cfg(TINY_VIT), mode='naclip', naclip_std=2)
    g2 = narrow.naclip_gaussian((3, 5))
    assert g2[1, 14].item() == pytest.approx(math.exp(-13 / 8), rel=1e-6)
    assert torch.all(g2[0] == 0) and torch.all(g2[:, 0] == 0)
    images = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        dense = narrow(images).dense
        torch.testing.assert_close(dense, expected_dense(narrow.visual, images, 'naclip', std=2),
                                   atol=1e-5, rtol=0)
        assert not torch.allclose(dense, encoder(images).dense, atol=1e-4)
    with pytest.raises(ValueError, match=r'naclip_std must be a number in \(0, inf\]'):
        MaskClipViT(clip_cfg(TINY_VIT), mode='naclip', naclip_std=0)


def test_unknown_and_vit_only_modes_are_rejected():
    with pytest.raises(ValueError, match="Unknown mode 'sclipp'"):
        MaskClipViT(clip_cfg(TINY_VIT), mode='sclipp')
    with pytest.raises(ValueError, match="Unknown mode 'sclipp'"):
        MaskClipResNet(clip_cfg(TINY_RN), mode='sclipp')
    for mode in NEW_MODES:
        with pytest.raises(ValueError, match=f"Mode '{mode}' changes a ViT's last transformer "
                                             'block.*MaskClipResNet.*MaskClipViT'):
            MaskClipResNet(clip_cfg(TINY_RN), mode=mode)
    with pytest.raises(ValueError, match="Mode 'naclip' changes a ViT's.*ResNet"):
        maskclip.create_segmenter(TINY_RN, None, ['cat'], templates='single', mode='naclip')
    with pytest.raises(ValueError, match="Unknown mode 'nope'"):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single', mode='nope')
    with pytest.raises(ValueError, match="naclip_std applies to mode='naclip' only"):
        maskclip.create_segmenter(TINY_VIT, None, ['cat'], templates='single', naclip_std=3)


@torch.no_grad()
def test_create_segmenter_predicts_with_the_chosen_mode():
    classes = ['cat', 'dog, puppy', 'sky']
    seg = maskclip.create_segmenter(TINY_VIT, None, classes, templates='single', mode='sclip')
    backbone = seg.model.backbone
    assert isinstance(backbone, MaskClipViT) and backbone.mode == 'sclip'
    image = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
    logits = seg.predict_logits(image)
    data = seg.model.data_preprocessor(
        dict(inputs=[torch.from_numpy(image.transpose(2, 0, 1).copy())]), False)
    coarse = seg.model.decode_head(MaskClipViT(clip_cfg(TINY_VIT), mode='sclip')(data['inputs']))
    expected = F.interpolate(coarse, size=(48, 80), mode='bilinear', align_corners=False)[0]
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    default = maskclip.create_segmenter(TINY_VIT, None, classes, templates='single')
    assert default.model.backbone.mode == 'maskclip'
    assert not torch.allclose(default.predict_logits(image), logits, atol=1e-4)
    naclip = maskclip.create_segmenter(TINY_VIT, None, classes, templates='single', mode='naclip',
                                       naclip_std=3)
    assert naclip.model.backbone.mode == 'naclip' and naclip.model.backbone.naclip_std == 3
    assert naclip.predict(image).shape == (48, 80)
