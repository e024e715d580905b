"""MaskCLIP as an mmseg ``EncoderDecoder``: whole / slide inference and TTA are inherited."""
from __future__ import annotations

from typing import List, Optional

import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from maskclip.clip import clear_cache
from maskclip.models.class_argmax import class_argmax
from maskclip.models.options import check_choice, check_flag, check_number
from maskclip.models.pamr import PAMR
from maskclip.models.segmentors.sliding import BatchedSlideInference


def with_attribute_test_cfg(kwargs: dict, owner: str = 'segmentor') -> dict:
    """``kwargs`` with a checked ``test_cfg`` that mmseg can read by attribute (plain dicts
    come from the Python API and tests): ``mode`` whole or slide; for slide, ``crop_size`` and
    ``stride`` pairs of positive ints with the stride not above the crop (mmseg would leave
    pixels uncovered, or fail far from the cause)."""
    test_cfg = ConfigDict(kwargs.get('test_cfg') or dict(mode='whole'))
    mode = check_choice(owner, 'test_cfg.mode', test_cfg.get('mode', 'whole'), ('whole', 'slide'))
    if mode == 'slide':
        for key in ('crop_size', 'stride'):
            value = test_cfg.get(key)
            if (not isinstance(value, (tuple, list)) or len(value) != 2 or
                    any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in value)):
                raise ValueError(f'{owner}: test_cfg.{key} must be a pair of positive integers '
                                 f'(height, width) for mode=slide, got {value!r}.')
        if any(s > c for s, c in zip(test_cfg.stride, test_cfg.crop_size)):
            raise ValueError(f'{owner}: test_cfg.stride {tuple(test_cfg.stride)} is larger than '
                             f'test_cfg.crop_size {tuple(test_cfg.crop_size)}: windows would '
                             'skip pixels; use a stride of at most the crop size.')
    data_preprocessor = kwargs.get('data_preprocessor') or {}
    if 'bgr_to_rgb' in data_preprocessor:
        check_flag(owner, 'data_preprocessor.bgr_to_rgb', data_preprocessor['bgr_to_rgb'])
    mean, std = data_preprocessor.get('mean'), data_preprocessor.get('std')
    if mean is not None and std is not None and max(mean) <= 1 and max(std) <= 1:
        raise ValueError(f'{owner}: data_preprocessor mean={list(mean)} / std={list(std)} are on '
                         'the 0..1 scale, but images come in 0..255: multiply both by 255 '
                         "(CLIP's are mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, "
                         '70.323]).')
    return dict(kwargs, test_cfg=test_cfg)


#: values of ``pamr['resolution']``
PAMR_RESOLUTIONS = ('input', 'original')
#: values of ``precision``
PRECISIONS = {'fp32': None, 'fp16': torch.float16, 'bf16': torch.bfloat16}


@MODELS.register_module()
class MaskClipSegmentor(BatchedSlideInference, EncoderDecoder):
    """A CLIP image encoder (backbone) and a text-classifier head built from one CLIP.

    Prediction (``predict``, what tools/test.py and the Python API run) is mmseg's: ``inference``
    (whole image or sliding windows, window scores averaged where they overlap) at the network
    input size, then ``postprocess_result`` (padding removed, bilinear resize to the original
    image, argmax). The training-free post-processing hooks in there, all off by default:

    * ``pamr``: :class:`~maskclip.models.pamr.PAMR` refines the scores with the (normalised)
      input image, at the input size right after ``inference`` (``resolution='input'``), or at
      the original size after the resize, with the input image resized bilinearly to it
      (``resolution='original'``: SCLIP's and NACLIP's code, wangf3014/SCLIP
      ``clip_segmentor.py:113-117``, sinahmr/NACLIP ``naclip.py:116-121``).
    * the head's probability rules (:meth:`MaskClipHead.label_scores`: ``softmax_over``,
      ``area_threshold``, ``bg_threshold``), applied to the scores at the original size; the
      ``seg_logits`` of the result are then what they return, and their argmax is the label.

    ``encode_decode`` (used by MaskCLIP+ / ReCLIP teachers) applies none of them.

    Args:
        clip: ``dict(model_name=..., pretrained=...)`` given to the backbone and to the head's
            text encoder unless they set their own ``clip``. Training-free: no checkpoint needed.
        pamr: ``None`` or ``iterations=0`` (off), or e.g.
            ``dict(iterations=10, dilations=(1, 2, 4, 8, 12, 24), resolution='input')``.
        precision: ``'fp32'`` (default), ``'fp16'`` or ``'bf16'``: ``inference`` runs under CUDA
            autocast in that type when the inputs are on a GPU (ClearCLIP evaluates in fp16);
            on the CPU it always runs in fp32.
    """

    def __init__(self, backbone: dict, decode_head: dict, clip: Optional[dict] = None,
                 pamr: Optional[dict] = None, precision: str = 'fp32', **kwargs):
        if clip is not None:
            backbone = dict(backbone, clip=backbone.get('clip', clip))
            decode_head = dict(decode_head, clip=decode_head.get('clip', clip))
        owner = type(self).__name__
        check_choice(owner, 'precision', precision, tuple(PRECISIONS))
        if pamr is not None and not isinstance(pamr, dict):
            raise ValueError(f'{owner}: pamr must be a dict (iterations, dilations, resolution) '
                             f'or None, got {pamr!r}.')
        pamr = dict(pamr or {})
        unknown = set(pamr) - {'iterations', 'dilations', 'resolution'}
        if unknown:
            raise ValueError(f'{owner}: pamr takes iterations, dilations and resolution; '
                             f'unknown: {", ".join(sorted(unknown))}.')
        pamr_resolution = check_choice(owner, "pamr['resolution']",
                                       pamr.pop('resolution', 'input'), PAMR_RESOLUTIONS)
        if 'iterations' in pamr:  # checked here: 0 (or a bad value) must not just turn PAMR off
            check_number(owner, "pamr['iterations']", pamr['iterations'], low=0, integer=True)
        super().__init__(backbone=backbone, decode_head=decode_head,
                         **with_attribute_test_cfg(kwargs, owner))
        if self.backbone.embed_dim != self.decode_head.in_channels:
            raise ValueError(
                f'The backbone gives {self.backbone.embed_dim}-d features but the head\'s text '
                f'embeddings are {self.decode_head.in_channels}-d: backbone and head must use the '
                'same CLIP model.')
        self.pamr = PAMR(**pamr) if pamr and pamr.get('iterations', 1) > 0 else None
        self.pamr_resolution = pamr_resolution
        self.precision = precision
        clear_cache()  # backbone and head hold what they need; free the shared CLIP

    @property
    def class_names(self):
        return self.decode_head.class_names

    def set_vocabulary(self, classes) -> None:
        """Predict other classes (a built-in vocabulary, a class file or a list): the text
        classifier is rebuilt with the same templates and options."""
        self.decode_head.set_vocabulary(classes)
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels

    def inference(self, inputs: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """mmseg's whole / slide inference (in ``precision`` on a GPU), then PAMR if configured
        at the input resolution."""
        dtype = PRECISIONS[self.precision]
        with torch.autocast('cuda', dtype=dtype or torch.float16,
                            enabled=dtype is not None and inputs.is_cuda):
            seg_logits = super().inference(inputs, batch_img_metas)
        seg_logits = seg_logits.float()
        if self.pamr is not None and self.pamr_resolution == 'input':
            seg_logits = self.refine(inputs, seg_logits, batch_img_metas)
        return seg_logits

    def refine(self, inputs: torch.Tensor, seg_logits: torch.Tensor,
               batch_img_metas: List[dict]) -> torch.Tensor:
        """PAMR of each image's scores inside its unpadded area (batch padding left alone)."""
        refined = seg_logits.clone()
        for i, meta in enumerate(batch_img_metas):
            rows, cols = unpadded(inputs, meta)
            refined[i:i + 1, :, rows, cols] = self.pamr(inputs[i:i + 1, :, rows, cols],
                                                        seg_logits[i:i + 1, :, rows, cols])
        return refined

    def predict(self, inputs: torch.Tensor, data_samples=None):
        """mmseg's ``predict``; the inputs also reach :meth:`postprocess_result` (for PAMR at
        the original resolution)."""
        if data_samples is not None:
            batch_img_metas = [sample.metainfo for sample in data_samples]
        else:
            shape = inputs.shape[2:]
            batch_img_metas = [dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                                    padding_size=[0, 0, 0, 0])] * inputs.shape[0]
        seg_logits = self.inference(inputs, batch_img_metas)
        return self.postprocess_result(seg_logits, data_samples, inputs=inputs)

    def postprocess_result(self, seg_logits: torch.Tensor, data_samples=None,
                           inputs: Optional[torch.Tensor] = None):
        """mmseg's (unpad, resize to the original size, argmax), then PAMR at the original
        resolution (if so configured) and the head's label rules."""
        data_samples = super().postprocess_result(seg_logits, data_samples)
        original_pamr = self.pamr is not None and self.pamr_resolution == 'original'
        if not original_pamr and not getattr(self.decode_head, 'changes_labels', False):
            return data_samples
        if original_pamr and inputs is None:
            raise ValueError("PAMR at resolution='original' needs the input images: call "
                             'predict(inputs, data_samples), not postprocess_result alone.')
        for i, sample in enumerate(data_samples):
            scores = sample.seg_logits.data[None]
            if original_pamr:
                image = original_size_image(inputs[i:i + 1], sample.metainfo, scores.shape[-2:],
                                            self.align_corners)
                scores = self.pamr(image, scores.float())
            scores = self.decode_head.label_scores(scores)[0]
            labels = class_argmax(scores, dim=0, keepdim=True)
            sample.set_data(dict(seg_logits=PixelData(data=scores),
                                 pred_sem_seg=PixelData(data=labels)))
        return data_samples


def unpadded(inputs: torch.Tensor, meta: dict) -> tuple:
    """(rows, cols) slices of an image's area inside a padded batch."""
    height, width = inputs.shape[-2:]
    left, right, top, bottom = meta.get('padding_size', None) or (0, 0, 0, 0)
    return slice(top, height - bottom), slice(left, width - right)


def original_size_image(image: torch.Tensor, meta: dict, size, align_corners: bool):
    """A (1, C, H, W) input image without its padding, flipped as its scores are (TTA), resized
    bilinearly to ``size`` (the original image size): PAMR's guide at that resolution."""
    rows, cols = unpadded(image, meta)
    image = image[:, :, rows, cols].float()
    if meta.get('flip', None):
        image = image.flip(dims=(3,) if meta.get('flip_direction') == 'horizontal' else (2,))
    return resize(image, size=tuple(size), mode='bilinear', align_corners=align_corners,
                  warning=False)
