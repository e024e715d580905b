"""MaskCLIP's ViT image encoder (paper Sec. 3.3, ViT paragraph)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from open_clip.transformer import QuickGELU, ResidualAttentionBlock, VisionTransformer
from torch import nn

from ..options import check_choice, check_flag, check_number
from .base import (POS_EMBED_RESIZES, ClipFeatures, FrozenClipEncoder, check_input_size,
                   resize_pos_embed)
from .fused_blocks import can_fuse, frozen_linear, fused_block, fused_mlp


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, N, D) -> (B, heads, N, D / heads)."""
    b, n, d = x.shape
    return x.view(b, n, num_heads, d // num_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, N, d) -> (B, N, heads * d)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


@MODELS.register_module()
class MaskClipViT(FrozenClipEncoder):
    """CLIP ViT whose last block yields dense features in the text space.

    ``mode`` picks what the last block does for the patch tokens. Every mode works on ``LN1(x)``
    of the last block, with q, k, v from its in-projection, per-head attention with scale
    ``head_dim ** -0.5``, its out-projection, then ``ln_post`` and the visual projection:

    - ``'maskclip'`` (MaskCLIP, Zhou et al., ECCV 2022): q and k are not used for the output,
      ``x = out_proj(v) + x``, ``x = x + MLP(LN2(x))``.
    - ``'baseline'``: the unmodified last block on every token.
    - ``'sclip'`` (SCLIP, Wang et al., ECCV 2024, correlative self-attention): weights
      ``softmax(q q^T * scale) + softmax(k k^T * scale)`` applied to v, then
      ``x = x + attn_out``, ``x = x + MLP(LN2(x))`` (residual and FFN kept).
    - ``'clearclip'`` (ClearCLIP, Lan et al., ECCV 2024): ``softmax(q q^T * scale)`` applied to
      v; the output is ``attn_out`` alone (no residual, no FFN).
    - ``'naclip'`` (NACLIP, Hajimiri et al., WACV 2025): ``softmax(k k^T * scale + G)`` applied to
      v, where ``G`` adds between patch tokens ``exp(-d^2 / (2 std^2))`` of their distance ``d``
      on the patch grid (``naclip_std``) and is zero on the class token's row and column; the
      output is ``attn_out`` alone (no residual, no FFN).

    In every mode the patch tokens attend to all tokens, class token included, and the class
    token takes the unmodified path, so ``global_embedding`` equals open_clip's ``encode_image``.
    Positional embeddings are resized bicubically to any input grid.

    Args:
        clip: ``dict(model_name=..., pretrained=...)``.
        mode: one of :data:`~maskclip.models.backbones.base.MODES` (above).
        keys_through_out_proj: pass the keys through the attention's output projection as the
            authors' code does (default: raw keys of the last attention layer, as in the paper).
        naclip_std: standard deviation, in patches, of NACLIP's Gaussian neighbourhood prior
            (used by ``mode='naclip'`` only; default 5 as in the paper).
        mlp_act: the MLP activation of the image tower: ``None`` keeps the CLIP model's own
            (QuickGELU for OpenAI weights), ``'gelu'`` is exact (erf) GELU as the MaskCLIP
            authors' mmcv ViT ran CLIP's weights (``configs/_base_/models/maskclip_vit16.py:23``),
            ``'quick_gelu'`` forces QuickGELU. The text tower is never changed.
        ln_eps: epsilon of every LayerNorm of the image tower (``ln_pre``, the blocks'
            ``ln_1`` / ``ln_2``, ``ln_post``); ``None`` keeps CLIP's 1e-5, the MaskCLIP authors'
            ViT used 1e-6 (``maskclip_vit16.py:22``).
        ln_eps_scope: which LayerNorms ``ln_eps`` sets: ``'all'`` (default, as the MaskCLIP
            authors' mmcv ViT) or ``'blocks'``: only the blocks' ``ln_1`` / ``ln_2``, ``ln_pre``
            and ``ln_post`` keep CLIP's 1e-5, as the ReCLIP authors' tower
            (dogehhh/ReCLIP@99b64d7 ``model/model.py:38-44, 85-91``).
        patch_padding: ``'floor'`` (default) drops the pixels past the last whole patch, as
            CLIP's patch convolution does; ``'corner'`` zero-pads the (normalised) input at the
            bottom and right up to a multiple of the patch size first, as the authors' mmcv
            ``PatchEmbed(padding='corner')`` (``mmseg/models/backbones/vit.py:228``,
            ``mmseg/models/utils/embed.py:58-80``). The dense output then covers the padded grid,
            and mmseg's head resize stretches it to the unpadded input, as the authors' did.
        pos_embed_resize: how the positional embeddings are resized to another grid:
            ``'size'`` (default, exact bicubic resize) or ``'scale_factor'`` (SCLIP's,
            ClearCLIP's and NACLIP's code); see :func:`~.base.resize_pos_embed`.
        fused_blocks: run the tower's blocks through :mod:`.fused_blocks` (one QKV projection,
            ``scaled_dot_product_attention``, oneDNN linear kernels on the CPU where nothing
            needs a gradient): open_clip's blocks up to float32 rounding, faster. ``False`` runs
            open_clip's modules themselves (what the authors' code and ``tools/benchmark.py``'s
            reference loop run).
    """

    #: values of ``patch_padding``
    PATCH_PADDINGS = ('floor', 'corner')
    #: values of ``mlp_act``
    MLP_ACTS = ('gelu', 'quick_gelu')

    #: how many Gaussian priors (one per grid size, device and dtype) are kept
    gaussian_cache_size = 4

    def __init__(self, clip=None, mode='maskclip', keys_through_out_proj=False,
                 naclip_std=5.0, mlp_act: Optional[str] = None, ln_eps: Optional[float] = None,
                 patch_padding: str = 'floor', ln_eps_scope: str = 'all',
                 pos_embed_resize: str = 'size', fused_blocks: bool = True, init_cfg=None):
        owner = type(self).__name__
        check_flag(owner, 'keys_through_out_proj', keys_through_out_proj)
        check_flag(owner, 'fused_blocks', fused_blocks)
        check_number(owner, 'naclip_std', naclip_std, low=0, low_open=True)
        check_choice(owner, 'mlp_act', mlp_act, self.MLP_ACTS, optional=True)
        check_number(owner, 'ln_eps', ln_eps, low=0, high=1, low_open=True, high_open=True,
                     optional=True)
        check_choice(owner, 'ln_eps_scope', ln_eps_scope, ('all', 'blocks'))
        check_choice(owner, 'patch_padding', patch_padding, self.PATCH_PADDINGS)
        check_choice(owner, 'pos_embed_resize', pos_embed_resize, POS_EMBED_RESIZES)
        super().__init__(clip=clip, mode=mode, init_cfg=init_cfg)
        self.pos_embed_resize = pos_embed_resize
        self.keys_through_out_proj = keys_through_out_proj
        self.naclip_std = float(naclip_std)
        self.patch_size = self.visual.patch_size
        self.patch_padding = patch_padding
        self._gaussian_cache = {}
        self._set_tower_numerics(mlp_act, ln_eps, ln_eps_scope)
        self.fused_blocks = fused_blocks

    @property
    def fuses_blocks(self) -> bool:
        """Whether the forward runs :mod:`.fused_blocks` (asked for, and every block is a
        plain open_clip block)."""
        return self.fused_blocks and all(can_fuse(b) for b in self.visual.transformer.resblocks)

    def _set_tower_numerics(self, mlp_act: Optional[str], ln_eps: Optional[float],
                            ln_eps_scope: str = 'all') -> None:
        """Change the private image tower's activation and LayerNorm epsilon (see the class
        docstring); CLIP's shared model and its text tower are untouched."""
        if mlp_act is not None:
            for block in self.visual.transformer.resblocks:
                block.mlp.gelu = nn.GELU() if mlp_act == 'gelu' else QuickGELU()
        if ln_eps is not None:
            scope = self.visual.transformer if ln_eps_scope == 'blocks' else self.visual
            for module in scope.modules():
                if isinstance(module, nn.LayerNorm):
                    module.eps = float(ln_eps)

    def pad_to_patches(self, images: torch.Tensor) -> torch.Tensor:
        """``patch_padding='corner'``: zeros at the bottom / right up to whole patches."""
        if self.patch_padding != 'corner':
            return images
        height, width = images.shape[-2:]
        ph, pw = self.patch_size
        pad_h, pad_w = math.ceil(height / ph) * ph - height, math.ceil(width / pw) * pw - width
        if pad_h == 0 and pad_w == 0:
            return images
        return F.pad(images, (0, pad_w, 0, pad_h))

    def _check_tower(self, visual):
        ok = (isinstance(visual, VisionTransformer) and visual.attn_pool is None
              and visual.pool_type == 'tok' and not visual.final_ln_after_pool
              and visual.transformer.batch_first
              and all(isinstance(b, ResidualAttentionBlock) for b in visual.transformer.resblocks))
        if not ok:
            raise ValueError(
                f"'{self.clip_spec.model_name}' is not a class-token CLIP ViT with standard "
                'attention blocks; MaskClipViT supports ViT-B-32, ViT-B-16, ViT-L-14 and the like. '
                'Use MaskClipResNet for RN50/RN101/RN50x*.')

    def grid_pos_embed(self, size: tuple[int, int]) -> torch.Tensor:
        """Patch positional embeddings as a (1, D, h, w) grid resized to ``size``."""
        pos = self.visual.positional_embedding[1:]
        h0, w0 = self.visual.grid_size
        grid = pos.reshape(1, h0, w0, -1).permute(0, 3, 1, 2)
        return resize_pos_embed(grid, size, self.pos_embed_resize)

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Patch embedding + class token + resized positional embedding + ln_pre."""
        visual = self.visual
        x = visual.conv1(images)
        size = tuple(x.shape[-2:])
        x = x.flatten(2).transpose(1, 2)
        grid_pos = self.grid_pos_embed(size)
        pos = torch.cat([visual.positional_embedding[:1], grid_pos.flatten(2)[0].T], dim=0)
        cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + pos.to(x.dtype)
        return visual.ln_pre(visual.patch_dropout(x)), grid_pos

    def naclip_gaussian(self, size: tuple[int, int], device=None,
                        dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """NACLIP's neighbourhood prior G for an ``(h, w)`` patch grid: (1 + hw, 1 + hw).

        ``G[1 + i, 1 + j] = exp(-d_ij^2 / (2 std^2))`` with ``d_ij`` the distance of patches ``i``
        and ``j`` (row-major) on the grid; row and column 0 (the class token) are zero.
        Built once per grid size, device and dtype (a few are cached).
        """
        h, w = (int(s) for s in size)
        device = torch.device('cpu') if device is None else torch.device(device)
        key = (h, w, device, dtype)
        gaussian = self._gaussian_cache.get(key)
        if gaussian is None:
            rows = torch.arange(h, dtype=torch.float64, device=device)
            cols = torch.arange(w, dtype=torch.float64, device=device)
            pos = torch.stack(torch.meshgrid(rows, cols, indexing='ij'), dim=-1).reshape(-1, 2)
            dist2 = (pos[:, None] - pos[None]).pow(2).sum(-1)
            gaussian = torch.exp(-dist2 / (2 * self.naclip_std ** 2))
            gaussian = F.pad(gaussian, (1, 0, 1, 0)).to(dtype)
            while len(self._gaussian_cache) >= self.gaussian_cache_size:
                self._gaussian_cache.pop(next(iter(self._gaussian_cache)))
            self._gaussian_cache[key] = gaussian
        return gaussian

    def _heads_attention(self, queries, keys, values, attn_mask=None) -> torch.Tensor:
        """Per-head ``softmax(queries keys^T * scale + attn_mask) values``, heads merged."""
        heads = self.visual.transformer.resblocks[-1].attn.num_heads
        out = F.scaled_dot_product_attention(split_heads(queries, heads), split_heads(keys, heads),
                                             split_heads(values, heads), attn_mask=attn_mask)
        return merge_heads(out)

    def project_out(self, tokens: torch.Tensor) -> torch.Tensor:
        """The last attention's output projection."""
        out_proj = self.visual.transformer.resblocks[-1].attn.out_proj
        linear = frozen_linear if self.fuses_blocks else F.linear
        return linear(tokens, out_proj.weight, out_proj.bias)

    def _patch_tokens(self, x, q, k, v, size, finish) -> torch.Tensor:
        """Last-block outputs of the patch tokens for ``sclip``, ``clearclip`` and ``naclip``."""
        out_proj = self.project_out
        if self.mode == 'sclip':
            attn_out = (self._heads_attention(q[:, 1:], q, v)
                        + self._heads_attention(k[:, 1:], k, v))
            return finish(x[:, 1:], out_proj(attn_out))
        if self.mode == 'clearclip':
            return out_proj(self._heads_attention(q[:, 1:], q, v))
        if self.mode == 'naclip':
            prior = self.naclip_gaussian(size, x.device, x.dtype)[1:]
            return out_proj(self._heads_attention(k[:, 1:], k, v, attn_mask=prior))
        raise ValueError(f"Unknown mode '{self.mode}'.")

    def forward(self, images: torch.Tensor) -> ClipFeatures:
        check_input_size(images, self.patch_size, type(self).__name__)
        images = self.pad_to_patches(images)
        b, _, height, width = images.shape
        h, w = height // self.patch_size[0], width // self.patch_size[1]
        x, grid_pos = self.embed(images)
        blocks = self.visual.transformer.resblocks
        fused = self.fuses_blocks
        for block in blocks[:-1]:
            x = fused_block(block, x) if fused else block(x)
        last = blocks[-1]
        attn = last.attn
        linear = frozen_linear if fused else F.linear
        q, k, v = linear(last.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)

        def finish(tokens, attn_out):
            """Residual + FFN of the last block (both kept by MaskCLIP)."""
            tokens = tokens + last.ls_1(attn_out)
            mlp = fused_mlp(last, last.ln_2(tokens)) if fused else last.mlp(last.ln_2(tokens))
            return tokens + last.ls_2(mlp)

        def attend(queries):
            out = F.scaled_dot_product_attention(split_heads(queries, attn.num_heads),
                                                 split_heads(k, attn.num_heads),
                                                 split_heads(v, attn.num_heads))
            return self.project_out(merge_heads(out))

        if self.mode == 'maskclip':
            cls_token = finish(x[:, :1], attend(q[:, :1]))
            patches = finish(x[:, 1:], self.project_out(v[:, 1:]))
        elif self.mode == 'baseline':
            out = finish(x, attend(q))
            cls_token, patches = out[:, :1], out[:, 1:]
        else:  # the class token keeps the unmodified path (global_embedding == encode_image)
            cls_token = finish(x[:, :1], attend(q[:, :1]))
            patches = self._patch_tokens(x, q, k, v, (h, w), finish)
        visual = self.visual
        global_embedding = visual.ln_post(cls_token[:, 0]) @ visual.proj
        dense = visual.ln_post(patches) @ visual.proj
        keys = k[:, 1:]
        if self.keys_through_out_proj:
            keys = self.project_out(keys)
        return ClipFeatures(
            dense=dense.transpose(1, 2).reshape(b, -1, h, w),
            keys=keys.transpose(1, 2).reshape(b, -1, h, w),
            global_embedding=global_embedding,
            pos_embed=grid_pos)
