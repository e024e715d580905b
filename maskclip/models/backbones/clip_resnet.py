"""MaskCLIP's ResNet image encoder (paper Sec. 3.3, Eq. 3-4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from open_clip.modified_resnet import ModifiedResNet

from .base import ClipFeatures, FrozenClipEncoder, check_input_size, resize_pos_embed


def linear_1x1(x: torch.Tensor, layer: torch.nn.Linear) -> torch.Tensor:
    """Apply a linear layer at every position of a (B, C, h, w) map, as a 1x1 convolution."""
    return F.conv2d(x, layer.weight[:, :, None, None], layer.bias)


@MODELS.register_module()
class MaskClipResNet(FrozenClipEncoder):
    """CLIP ResNet whose attention pool yields dense features.

    ``mode='maskclip'``: the attention pool's value and output projections are applied at every
    position as 1x1 convolutions, ``F(v_i)`` of Eq. 3 with ``v_i = Emb_v(x_i)`` of Eq. 4 (no
    positional embedding, as in the paper and the authors' code); q is discarded.
    ``mode='baseline'``: the unmodified attention pool with every position as a query.
    ``global_embedding`` is the unmodified pool over the mean query (open_clip ``encode_image``).
    The ViT last-block modes (``'sclip'``, ``'clearclip'``, ``'naclip'``) are refused.
    """

    supported_modes = ('maskclip', 'baseline')

    def _check_tower(self, visual):
        if not isinstance(visual, ModifiedResNet):
            raise ValueError(
                f"'{self.clip_spec.model_name}' is not a CLIP ResNet; MaskClipResNet supports "
                'RN50, RN101, RN50x4, RN50x16 and RN50x64. Use MaskClipViT for ViT models.')

    def grid_pos_embed(self, size: tuple[int, int]) -> torch.Tensor:
        """Attention-pool positional embeddings as a (1, D, h, w) grid resized to ``size``."""
        pos = self.visual.attnpool.positional_embedding[1:]
        side = int(round(pos.shape[0] ** 0.5))
        grid = pos.reshape(1, side, side, -1).permute(0, 3, 1, 2)
        return resize_pos_embed(grid, size)

    def attention_pool(self, feats: torch.Tensor, grid_pos: torch.Tensor,
                       all_queries: bool) -> torch.Tensor:
        """open_clip's AttentionPool2d with a resized positional embedding.

        Returns (B, 1 + hw, C) outputs when ``all_queries`` else (B, 1, C) for the mean query.
        """
        pool = self.visual.attnpool
        tokens = feats.flatten(2).permute(2, 0, 1)  # (hw, B, D)
        tokens = torch.cat([tokens.mean(dim=0, keepdim=True), tokens], dim=0)
        pos = torch.cat([pool.positional_embedding[:1], grid_pos.flatten(2)[0].T], dim=0)
        tokens = tokens + pos[:, None, :].to(tokens.dtype)
        out, _ = F.multi_head_attention_forward(
            query=tokens if all_queries else tokens[:1], key=tokens, value=tokens,
            embed_dim_to_check=tokens.shape[-1], num_heads=pool.num_heads,
            q_proj_weight=pool.q_proj.weight, k_proj_weight=pool.k_proj.weight,
            v_proj_weight=pool.v_proj.weight, in_proj_weight=None,
            in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
            bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.,
            out_proj_weight=pool.c_proj.weight, out_proj_bias=pool.c_proj.bias,
            use_separate_proj_weight=True, training=False, need_weights=False)
        return out.transpose(0, 1)

    def forward(self, images: torch.Tensor) -> ClipFeatures:
        check_input_size(images, (32, 32), type(self).__name__)  # the stride of layer4
        visual = self.visual
        x = visual.stem(images)
        feats = visual.layer4(visual.layer3(visual.layer2(visual.layer1(x))))
        b, _, h, w = feats.shape
        pool = visual.attnpool
        grid_pos = self.grid_pos_embed((h, w))
        if self.mode == 'maskclip':
            dense = linear_1x1(linear_1x1(feats, pool.v_proj), pool.c_proj)
            global_embedding = self.attention_pool(feats, grid_pos, all_queries=False)[:, 0]
        else:
            out = self.attention_pool(feats, grid_pos, all_queries=True)
            global_embedding = out[:, 0]
            dense = out[:, 1:].transpose(1, 2).reshape(b, -1, h, w)
        return ClipFeatures(dense=dense, keys=linear_1x1(feats, pool.k_proj),
                            global_embedding=global_embedding, pos_embed=grid_pos)
