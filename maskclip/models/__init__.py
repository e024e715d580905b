"""Modules registered into mmseg's MODELS registry."""
from .backbones import ClipFeatures, MaskClipResNet, MaskClipViT
from .heads import DeepLabV2Head, MaskClipHead
from .segmentors import MaskClipPlusSegmentor, MaskClipSegmentor
from .text_classifier import TextClassifier

__all__ = ['ClipFeatures', 'MaskClipResNet', 'MaskClipViT', 'DeepLabV2Head', 'MaskClipHead',
           'MaskClipPlusSegmentor', 'MaskClipSegmentor', 'TextClassifier']
