"""The frozen ViT tower's blocks for inference: one QKV projection, attention through
``scaled_dot_product_attention``, and on the CPU the linear layers as oneDNN kernels.

open_clip runs a block as ``nn.MultiheadAttention`` and ``nn.Linear`` modules, which on the CPU
call the default BLAS. oneDNN's fp32 GEMM (the kernel ``torch.compile`` picks on the CPU) is
1.15-1.3x faster on AVX-512 machines at the sizes of a ViT-B window batch, and it applies the
MLP's exact GELU in the same pass. The result is open_clip's block in float32, up to rounding
(the summation order of the GEMMs differs: about 1e-6 relative).

Used only where nothing needs a gradient (the tower is frozen, its inputs do not require grad):
oneDNN's kernel has no backward, so anything else takes ``torch.nn.functional.linear``.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from open_clip.transformer import QuickGELU, ResidualAttentionBlock
from torch import nn

#: whether this torch build has oneDNN's fused linear kernel
ONEDNN_LINEAR = (torch.backends.mkldnn.is_available()
                 and hasattr(torch.ops.mkldnn, '_linear_pointwise'))


def _no_grad_needed(*tensors) -> bool:
    return not any(t is not None and t.requires_grad for t in tensors)


def frozen_linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                  exact_gelu: bool = False) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` (then exact GELU if ``exact_gelu``), as one oneDNN kernel
    for float32 CPU tensors of which none requires grad."""
    if (ONEDNN_LINEAR and x.device.type == 'cpu' and x.dtype == weight.dtype == torch.float32
            and _no_grad_needed(x, weight, bias)):
        if exact_gelu:
            return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, 'gelu', [],
                                                      'none')
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight, bias, 'none', [], '')
    out = F.linear(x, weight, bias)
    return F.gelu(out) if exact_gelu else out


def is_exact_gelu(module: nn.Module) -> bool:
    return type(module) is nn.GELU and module.approximate == 'none'


def can_fuse(block: nn.Module) -> bool:
    """Whether :func:`fused_block` computes ``block``: an open_clip self-attention block
    whose MLP is exactly ``c_fc``, an activation and ``c_proj``."""
    return (type(block) is ResidualAttentionBlock and not hasattr(block, 'ln_1_kv')
            and block.attn.batch_first and block.attn._qkv_same_embed_dim
            and block.attn.in_proj_bias is not None and block.attn.bias_k is None
            and list(dict(block.mlp.named_children())) == ['c_fc', 'gelu', 'c_proj'])


def quick_gelu_(x: torch.Tensor) -> torch.Tensor:
    """OpenAI's QuickGELU ``x * sigmoid(1.702 x)`` written into ``x``: one temporary instead of
    open_clip's three (on the CPU a fresh multi-megabyte buffer costs page faults, which made
    the activation ten times slower than the arithmetic). Same values bit for bit."""
    gate = x * 1.702
    return x.mul_(gate.sigmoid_())


def activation(act: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """``act(hidden)``, in place for QuickGELU where no gradient flows through ``hidden``."""
    if type(act) is QuickGELU and not (torch.is_grad_enabled() and hidden.requires_grad):
        return quick_gelu_(hidden)
    return act(hidden)


def fused_mlp(block: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    """``block.mlp(x)``: c_fc (with exact GELU fused when that is the activation), c_proj."""
    fc, act, proj = block.mlp.c_fc, block.mlp.gelu, block.mlp.c_proj
    exact = is_exact_gelu(act)
    hidden = frozen_linear(x, fc.weight, fc.bias, exact_gelu=exact)
    return frozen_linear(hidden if exact else activation(act, hidden), proj.weight, proj.bias)


def fused_block(block: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` of an open_clip ``ResidualAttentionBlock`` (no mask, batch first) in eval
    mode: x + ls_1(attention(ln_1(x))), then x + ls_2(mlp(ln_2(x)))."""
    attn = block.attn
    b, n, d = x.shape
    heads = attn.num_heads
    qkv = frozen_linear(block.ln_1(x), attn.in_proj_weight, attn.in_proj_bias)
    q, k, v = qkv.view(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
    x = x + block.ls_1(frozen_linear(out, attn.out_proj.weight, attn.out_proj.bias))
    return x + block.ls_2(fused_mlp(block, block.ln_2(x)))
