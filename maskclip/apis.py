"""A small Python API for notebooks and scripts, built on the registered modules.

>>> seg = maskclip.create_segmenter('ViT-B-16', pretrained='openai', classes=['cat', 'grass, lawn'])
>>> logits = seg.predict_logits(image)   # (K, H, W) float, image: HxWx3 uint8 RGB
>>> labels = seg.predict(image)          # (H, W) class indices
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from mmseg.utils import register_all_modules

from maskclip.models.builder import maskclip_model_cfg


class Segmenter:
    """Wraps a built ``MaskClipSegmentor``; images are normalised with its data preprocessor."""

    def __init__(self, model: torch.nn.Module):
        self.model = model.eval()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.model.class_names

    @property
    def device(self) -> torch.device:
        return next(self.model.buffers()).device

    def to(self, device) -> 'Segmenter':
        self.model.to(device)
        return self

    @staticmethod
    def _as_rgb_array(image) -> np.ndarray:
        if hasattr(image, 'convert'):  # PIL image of any mode
            image = np.asarray(image.convert('RGB'))
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f'Expected an HxWx3 uint8 RGB array, got shape {image.shape} dtype {image.dtype}; '
                'convert grayscale/RGBA first, e.g. np.asarray(PIL.Image.open(p).convert("RGB")).')
        if min(image.shape[:2]) < 1:
            raise ValueError(f'The image is empty (shape {image.shape}).')
        return image

    @torch.no_grad()
    def predict_logits(self, image) -> torch.Tensor:
        """(K, H, W) float logits at the image's own size (bilinear, align_corners=False)."""
        image = self._as_rgb_array(image)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        data = self.model.data_preprocessor(dict(inputs=[tensor]), False)
        shape = tuple(image.shape[:2])
        meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape)
        return self.model.inference(data['inputs'], [meta])[0]

    def predict(self, image) -> torch.Tensor:
        """(H, W) int64 class indices."""
        return self.predict_logits(image).argmax(dim=0)


def create_segmenter(model_name: str = 'ViT-B-16',
                     pretrained: Optional[str] = 'openai',
                     classes: Union[str, Sequence] = 'voc21',
                     templates: Union[str, Sequence[str]] = 'vild',
                     key_smoothing: bool = False,
                     prompt_denoising: bool = False,
                     mode: str = 'maskclip',
                     device: Union[str, torch.device] = 'cpu',
                     naclip_std: Optional[float] = None,
                     **head_options) -> Segmenter:
    """Build a MaskCLIP segmenter.

    Args:
        model_name: open_clip model name (``'ViT-B-16'``, ``'RN50'``, ...).
        pretrained: open_clip tag, local checkpoint path, or ``None`` for random weights.
        classes: built-in vocabulary name, class-name file, or a list (``'a, b'`` = synonyms).
        templates: ``'vild'`` (85 templates), ``'single'`` or a list of ``'...{}...'`` strings.
        key_smoothing, prompt_denoising: the paper's refinements (Sec. 3.3).
        mode: the encoder's last block: ``'maskclip'`` (value path), ``'baseline'``
            (unmodified last attention), or, for ViTs only, ``'sclip'`` (SCLIP),
            ``'clearclip'`` (ClearCLIP) or ``'naclip'`` (NACLIP); see
            :class:`~maskclip.models.MaskClipViT`.
        naclip_std: std of NACLIP's Gaussian neighbourhood prior in patches (default 5).
        head_options: more :class:`~maskclip.models.MaskClipHead` options (thresholds, ...).
    """
    register_all_modules(init_default_scope=False)
    cfg = maskclip_model_cfg(model_name, pretrained, classes, templates, key_smoothing,
                             prompt_denoising, mode, naclip_std=naclip_std, **head_options)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg)
    return Segmenter(model).to(device)
