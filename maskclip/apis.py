"""A small Python API for notebooks and scripts, built on the registered modules.

>>> seg = maskclip.create_segmenter('ViT-B-16', pretrained='openai', classes=['cat', 'grass, lawn'])
>>> logits = seg.predict_logits(image)   # (K, H, W) float, image: HxWx3 uint8 RGB
>>> labels = seg.predict(image)          # (H, W) class indices
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

from maskclip.models.builder import maskclip_model_cfg

logger = logging.getLogger(__name__)

#: the longest image side the API segments at by default: larger images are resized down for
#: the network (attention memory grows with the square of the patch count: a 4000 x 4000 image
#: at native size asks for ~187 GB) and the labels come back at the image's own size
MAX_SIZE = 1024


class Segmenter:
    """Wraps a built ``MaskClipSegmentor``; images are normalised with its data preprocessor.
    Images whose longer side exceeds ``max_size`` run resized to it (a logged note says so);
    the scores and labels are returned at the image's own size. ``max_size=None``: native."""

    def __init__(self, model: torch.nn.Module, max_size: Optional[int] = MAX_SIZE):
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < 32):
            raise ValueError(f'max_size must be None (native size) or an integer of at least 32 '
                             f'pixels, got {max_size!r}.')
        self.model = model.eval()
        self.max_size = max_size

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
        """``image`` as HxWx3 uint8 RGB (:func:`maskclip.visualization.as_rgb_array`)."""
        from maskclip.visualization import as_rgb_array
        return as_rgb_array(image)

    @torch.no_grad()
    def _predict_sample(self, image) -> SegDataSample:
        """The model's ``predict`` on one image, exactly as tools/test.py runs it (window
        inference, PAMR, background rules), at the image's own size."""
        image = self._as_rgb_array(image)
        original = tuple(image.shape[:2])
        image = self._working_size(image)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        data = self.model.data_preprocessor(dict(inputs=[tensor]), False)
        shape = tuple(image.shape[:2])  # the scores are resized back to ``original``
        sample = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=original,
                                             pad_shape=shape, padding_size=[0, 0, 0, 0]))
        return self.model.predict(data['inputs'], [sample])[0]

    def _working_size(self, image: np.ndarray) -> np.ndarray:
        """``image`` resized (area-averaged) so that its longer side is ``max_size``."""
        height, width = image.shape[:2]
        if self.max_size is None or max(height, width) <= self.max_size:
            return image
        from PIL import Image
        # the short side is not brought below 32 pixels (two patches): a very long, thin image
        # keeps a longer side than max_size rather than vanish
        scale = max(self.max_size / max(height, width), min(1.0, 32 / min(height, width)))
        if scale >= 1:
            return image
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        logger.warning('The image is %dx%d; segmenting it at %dx%d (max_size=%d; max_size=None '
                       'keeps the native size), labels at %dx%d.', width, height, *size,
                       self.max_size, width, height)
        return np.asarray(Image.fromarray(image).resize(size, Image.BOX))

    def predict_logits(self, image) -> torch.Tensor:
        """(K, H, W) float scores at the image's own size whose argmax is :meth:`predict`: the
        logits (bilinear, align_corners=False), or the class probabilities when the head's
        probability rules are on (``bg_threshold``, ``softmax_over='names'``,
        ``area_threshold``)."""
        return self._predict_sample(image).seg_logits.data

    def predict(self, image) -> torch.Tensor:
        """(H, W) int64 class indices, the labels tools/test.py would give."""
        return self._predict_sample(image).pred_sem_seg.data[0]


def create_segmenter(model_name: str = 'ViT-B-16',
                     pretrained: Optional[str] = 'openai',
                     classes: Union[str, Sequence] = 'voc21',
                     templates: Union[str, Sequence[str]] = 'vild',
                     key_smoothing: bool = False,
                     prompt_denoising: bool = False,
                     mode: str = 'maskclip',
                     device: Union[str, torch.device] = 'cpu',
                     naclip_std: Optional[float] = None,
                     test_cfg: Optional[dict] = None,
                     pamr: Optional[dict] = None,
                     max_size: Optional[int] = MAX_SIZE,
                     **options) -> Segmenter:
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
        test_cfg: ``dict(mode='whole')`` (default) or sliding windows, e.g.
            ``dict(mode='slide', crop_size=(224, 224), stride=(112, 112))``.
        pamr: PAMR post-processing, e.g. ``dict(iterations=10, dilations=(8, 16),
            resolution='original')`` (see :class:`~maskclip.models.MaskClipSegmentor`).
        max_size: the longest image side segmented (default :data:`MAX_SIZE`); larger images
            run resized to it and their labels come back at full size. ``None``: native size.
        options: ``mean`` / ``std`` / ``bgr_to_rgb`` of the data preprocessor,
            ``pos_embed_resize``, ``precision``, and :class:`~maskclip.models.MaskClipHead`
            options (``logit_scale``, ``bg_threshold``, ``bg_words``, ``softmax_over``,
            ``area_threshold``, ...). :meth:`Segmenter.predict` applies all of them as
            tools/test.py does.
    """
    try:
        device = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a torch device: use 'cpu', 'cuda' or "
                         "'cuda:N'.") from error
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r}, but CUDA is not available here; use 'cpu'.")
    register_all_modules(init_default_scope=False)
    cfg = maskclip_model_cfg(model_name, pretrained, classes, templates, key_smoothing,
                             prompt_denoising, mode, naclip_std=naclip_std, test_cfg=test_cfg,
                             pamr=pamr, **options)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg)
    return Segmenter(model, max_size).to(device)
