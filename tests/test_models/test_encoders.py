"""The encoders against open_clip on the same random weights, and MaskCLIP's formulas."""
import pytest
import torch
import torch.nn.functional as F

from maskclip.clip import load_clip
from maskclip.models import MaskClipResNet, MaskClipViT
from maskclip.models.backbones.base import resize_pos_embed

from ..conftest import TINY_RN, TINY_VIT

VIT_NAMES = [TINY_VIT, pytest.param('ViT-B-16', marks=pytest.mark.slow)]
RN_NAMES = [TINY_RN, pytest.param('RN50', marks=pytest.mark.slow)]


def clip_cfg(name):
    return dict(model_name=name, pretrained=None)


@pytest.mark.parametrize('name', VIT_NAMES)
@pytest.mark.parametrize('mode', ['maskclip', 'baseline'])
def test_vit_global_embedding_equals_open_clip(name, mode):
    clip = load_clip(name, None)
    encoder = MaskClipViT(clip_cfg(name), mode=mode)
    images = torch.randn(2, 3, 224, 224)
    expected = clip.encode_image(images)
    got = encoder(images).global_embedding
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize('name', RN_NAMES)
@pytest.mark.parametrize('mode', ['maskclip', 'baseline'])
def test_resnet_global_embedding_equals_open_clip(name, mode):
    clip = load_clip(name, None)
    encoder = MaskClipResNet(clip_cfg(name), mode=mode)
    images = torch.randn(2, 3, 224, 224)
    expected = clip.encode_image(images)
    torch.testing.assert_close(encoder(images).global_embedding, expected, atol=1e-5, rtol=0)


def vit_last_block_inputs(visual, images):
    """Tokens entering the last block, computed with open_clip's own modules (native size)."""
    x = visual._embeds(images)
    for block in visual.transformer.resblocks[:-1]:
        x = block(x)
    return x


def test_vit_maskclip_dense_equals_value_path():
    visual = load_clip(TINY_VIT, None).visual
    encoder = MaskClipViT(clip_cfg(TINY_VIT))
    images = torch.randn(2, 3, 224, 224)
    x = vit_last_block_inputs(visual, images)
    last = visual.transformer.resblocks[-1]
    d = x.shape[-1]
    w_v = last.attn.in_proj_weight[2 * d:]
    b_v = last.attn.in_proj_bias[2 * d:]
    v = last.ln_1(x) @ w_v.T + b_v
    y = last.attn.out_proj(v) + x                      # v = out_proj(v) + x
    y = y + last.mlp(last.ln_2(y))                     # v = v + MLP(LN2(v))
    expected = visual.ln_post(y[:, 1:]) @ visual.proj  # ln_post, projection, patch tokens
    expected = expected.transpose(1, 2).reshape(2, -1, 14, 14)
    out = encoder(images)
    torch.testing.assert_close(out.dense, expected, atol=1e-5, rtol=0)
    keys = (last.ln_1(x) @ last.attn.in_proj_weight[d:2 * d].T + last.attn.in_proj_bias[d:2 * d])
    torch.testing.assert_close(out.keys, keys[:, 1:].transpose(1, 2).reshape(2, d, 14, 14))


def test_vit_baseline_dense_equals_open_clip_tokens():
    visual = load_clip(TINY_VIT, None).visual
    encoder = MaskClipViT(clip_cfg(TINY_VIT), mode='baseline')
    images = torch.randn(1, 3, 224, 224)
    visual.output_tokens = True
    try:
        _, tokens = visual(images)
    finally:
        visual.output_tokens = False
    expected = (tokens @ visual.proj).transpose(1, 2).reshape(1, -1, 14, 14)
    torch.testing.assert_close(encoder(images).dense, expected, atol=1e-5, rtol=0)


def test_resnet_maskclip_dense_is_value_and_output_projection():
    visual = load_clip(TINY_RN, None).visual
    encoder = MaskClipResNet(clip_cfg(TINY_RN))
    images = torch.randn(2, 3, 224, 224)
    feats = visual.layer4(visual.layer3(visual.layer2(visual.layer1(visual.stem(images)))))
    pool = visual.attnpool
    per_position = feats.permute(0, 2, 3, 1)                 # Eq. 4: v_i = Emb_v(x_i), no PE
    expected = pool.c_proj(pool.v_proj(per_position))        # Eq. 3: F(v_i)
    out = encoder(images)
    torch.testing.assert_close(out.dense, expected.permute(0, 3, 1, 2), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.keys, pool.k_proj(per_position).permute(0, 3, 1, 2),
                               atol=1e-5, rtol=0)


def test_resnet_baseline_dense_uses_every_position_as_query():
    visual = load_clip(TINY_RN, None).visual
    encoder = MaskClipResNet(clip_cfg(TINY_RN), mode='baseline')
    images = torch.randn(1, 3, 224, 224)
    feats = visual.layer4(visual.layer3(visual.layer2(visual.layer1(visual.stem(images)))))
    pool = visual.attnpool
    x = feats.flatten(2).permute(2, 0, 1)
    x = torch.cat([x.mean(0, keepdim=True), x]) + pool.positional_embedding[:, None]
    heads, d = pool.num_heads, x.shape[-1]
    q, k, v = pool.q_proj(x), pool.k_proj(x), pool.v_proj(x)

    def split(t):
        return t[:, 0].reshape(-1, heads, d // heads).transpose(0, 1)

    attn = torch.softmax(split(q) @ split(k).transpose(1, 2) / (d // heads) ** 0.5, dim=-1)
    out = pool.c_proj((attn @ split(v)).transpose(0, 1).reshape(-1, d))
    expected = out[1:].T.reshape(1, -1, 7, 7)
    torch.testing.assert_close(encoder(images).dense, expected, atol=1e-5, rtol=0)


def test_positional_embedding_is_resized_bicubically():
    encoder = MaskClipViT(clip_cfg(TINY_VIT))
    pos = encoder.visual.positional_embedding[1:].reshape(1, 14, 14, -1).permute(0, 3, 1, 2)
    assert resize_pos_embed(pos, (14, 14)) is pos  # native grid: untouched
    expected = F.interpolate(pos, size=(20, 33), mode='bicubic', align_corners=False)
    out = encoder(torch.randn(1, 3, 320, 528))
    assert out.dense.shape[-2:] == (20, 33)
    torch.testing.assert_close(out.pos_embed, expected)
    # a different grid really changes the embedding (not a silent crop or repeat)
    assert not torch.allclose(out.pos_embed[..., :14, :14], pos)


def test_any_input_size_and_frozen_eval_mode():
    encoder = MaskClipViT(clip_cfg(TINY_VIT))
    encoder.train()
    assert not encoder.visual.training
    assert not any(p.requires_grad for p in encoder.parameters())
    out = encoder(torch.randn(1, 3, 100, 230))
    assert out.dense.shape == (1, 32, 6, 14)
    assert out.keys.shape == (1, 64, 6, 14)
    rn = MaskClipResNet(clip_cfg(TINY_RN))
    assert rn(torch.randn(1, 3, 200, 330)).dense.shape[-2:] == (6, 10)  # 200 -> 100 -> 50 -> 25 -> 12 -> 6


def test_keys_through_out_proj_option():
    encoder = MaskClipViT(clip_cfg(TINY_VIT))
    authors = MaskClipViT(clip_cfg(TINY_VIT), keys_through_out_proj=True)
    images = torch.randn(1, 3, 224, 224)
    raw, projected = encoder(images).keys, authors(images).keys
    out_proj = encoder.visual.transformer.resblocks[-1].attn.out_proj
    expected = out_proj(raw.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(raw.shape)
    torch.testing.assert_close(projected, expected)


def test_wrong_family_and_mode_are_rejected():
    with pytest.raises(ValueError, match='MaskClipResNet'):
        MaskClipViT(clip_cfg(TINY_RN))
    with pytest.raises(ValueError, match='MaskClipViT'):
        MaskClipResNet(clip_cfg(TINY_VIT))
    with pytest.raises(ValueError, match="Unknown mode 'segformer'"):
        MaskClipViT(clip_cfg(TINY_VIT), mode='segformer')
