"""MaskCLIP's ViT image encoder (paper Sec. 3.3, ViT paragraph)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

from .base import ClipFeatures, FrozenClipEncoder, resize_pos_embed


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

    ``mode='maskclip'``: in the last block q and k are not used for the output,
    ``x = out_proj(v) + x``, ``x = x + MLP(LN2(x))``, then ``ln_post`` and the projection on every
    patch token. ``mode='baseline'``: the unmodified last block on every token.
    The class token always takes the unmodified path, so ``global_embedding`` equals
    open_clip's ``encode_image``. Positional embeddings are resized bicubically to any input grid.

    Args:
        keys_through_out_proj: pass the keys through the attention's output projection as the
            authors' code does (default: raw keys of the last attention layer, as in the paper).
    """

    def __init__(self, clip=None, mode='maskclip', keys_through_out_proj=False, init_cfg=None):
        super().__init__(clip=clip, mode=mode, init_cfg=init_cfg)
        self.keys_through_out_proj = keys_through_out_proj
        self.patch_size = self.visual.patch_size

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
        return resize_pos_embed(grid, size)

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

    def forward(self, images: torch.Tensor) -> ClipFeatures:
        b, _, height, width = images.shape
        h, w = height // self.patch_size[0], width // self.patch_size[1]
        x, grid_pos = self.embed(images)
        blocks = self.visual.transformer.resblocks
        for block in blocks[:-1]:
            x = block(x)
        last = blocks[-1]
        attn = last.attn
        q, k, v = F.linear(last.ln_1(x), attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)

        def finish(tokens, attn_out):
            """Residual + FFN of the last block (both kept by MaskCLIP)."""
            tokens = tokens + last.ls_1(attn_out)
            return tokens + last.ls_2(last.mlp(last.ln_2(tokens)))

        def attend(queries):
            out = F.scaled_dot_product_attention(split_heads(queries, attn.num_heads),
                                                 split_heads(k, attn.num_heads),
                                                 split_heads(v, attn.num_heads))
            return attn.out_proj(merge_heads(out))

        if self.mode == 'maskclip':
            cls_token = finish(x[:, :1], attend(q[:, :1]))
            patches = finish(x[:, 1:], attn.out_proj(v[:, 1:]))
        else:
            out = finish(x, attend(q))
            cls_token, patches = out[:, :1], out[:, 1:]
        visual = self.visual
        global_embedding = visual.ln_post(cls_token[:, 0]) @ visual.proj
        dense = visual.ln_post(patches) @ visual.proj
        keys = k[:, 1:]
        if self.keys_through_out_proj:
            keys = attn.out_proj(keys)
        return ClipFeatures(
            dense=dense.transpose(1, 2).reshape(b, -1, h, w),
            keys=keys.transpose(1, 2).reshape(b, -1, h, w),
            global_embedding=global_embedding,
            pos_embed=grid_pos)
