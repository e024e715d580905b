"""MaskCLIP as an mmseg ``EncoderDecoder``: whole / slide inference and TTA are inherited."""
from __future__ import annotations

from typing import Optional

from mmengine.config import ConfigDict
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS

from maskclip.clip import clear_cache


def with_attribute_test_cfg(kwargs: dict) -> dict:
    """mmseg reads ``test_cfg`` by attribute; plain dicts come from the Python API and tests."""
    return dict(kwargs, test_cfg=ConfigDict(kwargs.get('test_cfg') or dict(mode='whole')))


@MODELS.register_module()
class MaskClipSegmentor(EncoderDecoder):
    """A CLIP image encoder (backbone) and a text-classifier head built from one CLIP.

    Args:
        clip: ``dict(model_name=..., pretrained=...)`` given to the backbone and to the head's
            text encoder unless they set their own ``clip``. Training-free: no checkpoint needed.
    """

    def __init__(self, backbone: dict, decode_head: dict, clip: Optional[dict] = None, **kwargs):
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
        clear_cache()  # backbone and head hold what they need; free the shared CLIP

    @property
    def class_names(self):
        return self.decode_head.class_names
