"""What the CLIP image encoders share: their output type, freezing and positional-embedding resizing."""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule

from maskclip.clip import ClipSpec, copy_module, load_clip

#: every last-block mode; the ones after ``baseline`` exist for ViTs only (MaskClipViT)
MODES = ('maskclip', 'baseline', 'sclip', 'clearclip', 'naclip')
#: modes that change a ViT's last transformer block (no ResNet counterpart)
VIT_ONLY_MODES = ('sclip', 'clearclip', 'naclip')


class ClipFeatures(NamedTuple):
    """Dense outputs of a MaskCLIP image encoder for a batch.

    Attributes:
        dense: (B, C, h, w) per-position features in CLIP's joint text-image space.
        keys: (B, D, h, w) key features of the last attention layer (for key smoothing, Eq. 5).
        global_embedding: (B, C) CLIP's image embedding (equals open_clip ``encode_image``).
        pos_embed: (1, D, h, w) positional embedding resized to the feature grid.
    """
    dense: torch.Tensor
    keys: torch.Tensor
    global_embedding: torch.Tensor
    pos_embed: torch.Tensor


#: values of ``resize_pos_embed(how=...)`` (``MaskClipViT(pos_embed_resize=...)``)
POS_EMBED_RESIZES = ('size', 'scale_factor')


def resize_pos_embed(grid_embed: torch.Tensor, size: tuple[int, int],
                     how: str = 'size') -> torch.Tensor:
    """Bicubically resize a (1, D, h0, w0) positional-embedding grid to ``size`` (paper Sec. 4).

    ``how='size'`` maps the output grid onto the input grid exactly (``F.interpolate(size=)``).
    ``how='scale_factor'`` is the DINO-style resize of SCLIP's, ClearCLIP's and NACLIP's code
    (wangf3014/SCLIP ``clip/model.py:263-281``, sinahmr/NACLIP ``clip/model.py:134-151``,
    mc-lan/ClearCLIP ``open_clip/transformer.py:566-587``): scale factors
    ``(h + 0.1) / h0`` and ``(w + 0.1) / w0``, which PyTorch uses for the source coordinates
    (``src = (dst + 0.5) * h0 / (h + 0.1) - 0.5``), so the grid is sampled slightly differently.

    Returns the input unchanged when the size already matches (theirs too, for square grids).
    """
    if how not in POS_EMBED_RESIZES:
        raise ValueError(f'pos_embed_resize must be one of {POS_EMBED_RESIZES}, not {how!r}.')
    if tuple(grid_embed.shape[-2:]) == tuple(size):
        return grid_embed
    if how == 'scale_factor':
        (h0, w0), (h, w) = grid_embed.shape[-2:], size
        resized = F.interpolate(grid_embed, scale_factor=((h + 0.1) / h0, (w + 0.1) / w0),
                                mode='bicubic', align_corners=False,
                                recompute_scale_factor=False)
        if tuple(resized.shape[-2:]) != (h, w):  # cannot happen for grids below ~1e5 patches
            raise RuntimeError(f'scale_factor resize gave {tuple(resized.shape[-2:])}, not {size}')
        return resized
    return F.interpolate(grid_embed, size=size, mode='bicubic', align_corners=False)


def check_input_size(images: torch.Tensor, patch, owner: str) -> None:
    """Refuse inputs smaller than one patch (ViT) or one output cell (ResNet, stride 32): they
    give no feature at all, or an error deep inside the network."""
    height, width = images.shape[-2:]
    if height < patch[0] or width < patch[1]:
        raise ValueError(f'{owner}: the input is {width}x{height} pixels, smaller than one '
                         f'{patch[1]}x{patch[0]} patch; use images of at least {patch[1]}x'
                         f'{patch[0]} pixels (or resize them up).')


class FrozenClipEncoder(BaseModule):
    """Base of the MaskCLIP encoders: holds a private, frozen copy of CLIP's image tower.

    Args:
        clip: ``dict(model_name=..., pretrained=...)`` (see :class:`maskclip.clip.ClipSpec`).
        mode: ``'maskclip'`` (value path, paper Sec. 3.3) or ``'baseline'`` (unmodified last
            attention, paper Table 1a); ViT encoders also take ``'sclip'``, ``'clearclip'`` and
            ``'naclip'`` (see :class:`MaskClipViT`).
    """

    #: the modes this encoder implements (a subset of :data:`MODES`)
    supported_modes: tuple = MODES

    def __init__(self, clip: Optional[dict] = None, mode: str = 'maskclip', init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if mode not in MODES:
            raise ValueError(f"Unknown mode '{mode}'; choose one of {MODES}.")
        if mode not in self.supported_modes:
            raise ValueError(
                f"Mode '{mode}' changes a ViT's last transformer block and has no counterpart in "
                f'{type(self).__name__}; use a CLIP ViT (MaskClipViT) for it, or one of '
                f'{self.supported_modes} here.')
        self.mode = mode
        self.clip_spec = ClipSpec.from_cfg(clip)
        visual = load_clip(**vars(self.clip_spec)).visual
        self._check_tower(visual)
        self.visual = copy_module(visual).requires_grad_(False).eval()
        self.embed_dim = visual.output_dim

    def _check_tower(self, visual: torch.nn.Module) -> None:
        raise NotImplementedError

    def train(self, mode: bool = True):
        """CLIP stays frozen: the encoder is always in eval mode."""
        super().train(mode)
        self.visual.eval()
        return self

    def init_weights(self):
        """Weights come from CLIP; nothing to initialise."""
