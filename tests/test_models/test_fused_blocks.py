"""The fused inference blocks against open_clip's blocks on the same weights."""
import pytest
import torch
from open_clip.transformer import QuickGELU, ResidualAttentionBlock
from torch import nn

from maskclip.models import MaskClipViT
from maskclip.models.backbones.base import MODES
from maskclip.models.backbones.fused_blocks import (ONEDNN_LINEAR, can_fuse, frozen_linear,
                                                    fused_block, quick_gelu_)
from maskclip.utils.profiling import silenced_native_stderr

from ..conftest import TINY_VIT


def make_block(act_layer=nn.GELU, ls_init_value=None, seed=0):
    torch.manual_seed(seed)
    block = ResidualAttentionBlock(64, 4, act_layer=act_layer, ls_init_value=ls_init_value)
    with torch.no_grad():  # biases are zero at init: make every term count
        for param in block.parameters():
            param.add_(0.1 * torch.randn_like(param))
    return block.eval().requires_grad_(False)


def ops_run(fn, *args):
    with silenced_native_stderr(), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn(*args)
    return {event.name for event in prof.events()}


@pytest.mark.parametrize('act_layer,ls_init_value', [(nn.GELU, None), (QuickGELU, None),
                                                     (nn.GELU, 0.5)])
def test_fused_block_equals_open_clip_block(act_layer, ls_init_value):
    block = make_block(act_layer, ls_init_value)
    assert can_fuse(block)
    x = torch.randn(3, 17, 64)
    with torch.no_grad():
        expected = block(x)
        got = fused_block(block, x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # with a gradient to compute, the plain kernels run and the gradient is open_clip's
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    block(x_ref).square().sum().backward()
    fused_block(block, x_ours).square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.skipif(not ONEDNN_LINEAR, reason='this torch build has no oneDNN linear')
def test_frozen_linear_runs_onednn_only_where_no_gradient_is_needed():
    x, weight, bias = torch.randn(5, 8), torch.randn(16, 8), torch.randn(16)
    expected = torch.nn.functional.linear(x, weight, bias)
    torch.testing.assert_close(frozen_linear(x, weight, bias), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(frozen_linear(x, weight, bias, exact_gelu=True),
                               torch.nn.functional.gelu(expected), atol=1e-5, rtol=1e-5)
    assert 'mkldnn::_linear_pointwise' in ops_run(frozen_linear, x, weight, bias)
    grad_x = x.clone().requires_grad_()
    assert 'mkldnn::_linear_pointwise' not in ops_run(frozen_linear, grad_x, weight, bias)
    assert 'mkldnn::_linear_pointwise' not in ops_run(frozen_linear, x.double(), weight.double(),
                                                      bias.double())


def test_quick_gelu_in_place_is_open_clips_bit_for_bit():
    x = torch.randn(4, 33, 128)
    expected = QuickGELU()(x)
    out = quick_gelu_(x)
    assert out.data_ptr() == x.data_ptr() and torch.equal(out, expected)


def test_blocks_that_are_not_plain_are_not_fused():
    block = make_block()
    block.mlp.add_module('ln', nn.LayerNorm(256))  # open_clip's scale_fc variant
    assert not can_fuse(block)
    encoder = MaskClipViT(dict(model_name=TINY_VIT, pretrained=None))
    assert encoder.fuses_blocks
    encoder.visual.transformer.resblocks[0].mlp.add_module('ln', nn.Identity())
    assert not encoder.fuses_blocks and encoder.fused_blocks


@pytest.mark.parametrize('mode', MODES)
def test_encoder_with_fused_blocks_equals_open_clips_blocks(mode):
    kwargs = dict(mode=mode, keys_through_out_proj=True)
    fused = MaskClipViT(dict(model_name=TINY_VIT, pretrained=None), **kwargs)
    plain = MaskClipViT(dict(model_name=TINY_VIT, pretrained=None), fused_blocks=False, **kwargs)
    images = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        got, expected = fused(images), plain(images)
    for field in ('dense', 'keys', 'global_embedding'):
        torch.testing.assert_close(getattr(got, field), getattr(expected, field), atol=1e-5,
                                   rtol=1e-5, msg=field)
