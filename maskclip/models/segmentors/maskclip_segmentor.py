"""MaskCLIP as an mmseg ``EncoderDecoder``: whole / slide inference and TTA are inherited."""
from __future__ import annotations

from typing import List, Optional

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from maskclip.clip import clear_cache
from maskclip.models.pamr import PAMR


def with_attribute_test_cfg(kwargs: dict) -> dict:
    """mmseg reads ``test_cfg`` by attribute; plain dicts come from the Python API and tests."""
    return dict(kwargs, test_cfg=ConfigDict(kwargs.get('test_cfg') or dict(mode='whole')))


@MODELS.register_module()
class MaskClipSegmentor(EncoderDecoder):
    """A CLIP image encoder (backbone) and a text-classifier head built from one CLIP.

    Prediction (``predict``, what tools/test.py runs) is mmseg's: ``inference`` (whole image or
    sliding windows, window scores averaged where they overlap) at the network input size, then
    ``postprocess_result`` (padding removed, bilinear resize to the original image, argmax). Two
    training-free post-processing steps hook in there, both off by default:

    * ``pamr``: :class:`~maskclip.models.pamr.PAMR` refines the stitched scores with the
      (resized, normalised) input image at the input size, right after ``inference``.
    * the head's ``bg_threshold`` (``MaskClipHead``): applied to the scores at the original size
      in ``postprocess_result``; ``seg_logits`` then hold the class probabilities of
      :meth:`MaskClipHead.background_by_threshold`.

    ``encode_decode`` (used by MaskCLIP+ / ReCLIP teachers) applies neither.

    Args:
        clip: ``dict(model_name=..., pretrained=...)`` given to the backbone and to the head's
            text encoder unless they set their own ``clip``. Training-free: no checkpoint needed.
        pamr: ``None`` or ``iterations=0`` (off), or e.g.
            ``dict(iterations=10, dilations=(1, 2, 4, 8, 12, 24))``.
    """

    def __init__(self, backbone: dict, decode_head: dict, clip: Optional[dict] = None,
                 pamr: Optional[dict] = None, **kwargs):
        if clip is not None:
            backbone = dict(backbone, clip=backbone.get('clip', clip))
            decode_head = dict(decode_head, clip=decode_head.get('clip', clip))
        super().__init__(backbone=backbone, decode_head=decode_head,
                         **with_attribute_test_cfg(kwargs))
        if self.backbone.embed_dim != self.decode_head.in_channels:
            raise ValueError(
                f'The backbone gives {self.backbone.embed_dim}-d features but the head\'s text '
                f'embeddings are {self.decode_head.in_channels}-d: backbone and head must use the '
                'same CLIP model.')
        self.pamr = PAMR(**pamr) if pamr and pamr.get('iterations', 1) > 0 else None
        clear_cache()  # backbone and head hold what they need; free the shared CLIP

    @property
    def class_names(self):
        return self.decode_head.class_names

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """mmseg's whole / slide inference, then PAMR if configured."""
        seg_logits = super().inference(inputs, batch_img_metas)
        if self.pamr is not None:
            seg_logits = self.refine(inputs, seg_logits, batch_img_metas)
        return seg_logits

    def refine(self, inputs: torch.Tensor, seg_logits: torch.Tensor,
               batch_img_metas: List[dict]) -> torch.Tensor:
        """PAMR of each image's scores inside its unpadded area (batch padding left alone)."""
        refined = seg_logits.clone()
        height, width = inputs.shape[-2:]
        for i, meta in enumerate(batch_img_metas):
            left, right, top, bottom = meta.get('padding_size', None) or (0, 0, 0, 0)
            rows, cols = slice(top, height - bottom), slice(left, width - right)
            refined[i:i + 1, :, rows, cols] = self.pamr(inputs[i:i + 1, :, rows, cols],
                                                        seg_logits[i:i + 1, :, rows, cols])
        return refined

    def postprocess_result(self, seg_logits: torch.Tensor, data_samples=None):
        """mmseg's (unpad, resize to the original size, argmax), then the background threshold."""
        data_samples = super().postprocess_result(seg_logits, data_samples)
        threshold = getattr(self.decode_head, 'background_by_threshold', None)
        if threshold is None or getattr(self.decode_head, 'bg_threshold', None) is None:
            return data_samples
        for sample in data_samples:
            probs = threshold(sample.seg_logits.data[None])[0]
            sample.set_data(dict(seg_logits=PixelData(data=probs),
                                 pred_sem_seg=PixelData(data=probs.argmax(dim=0, keepdim=True))))
        return data_samples
