"""Modules registered into mmseg's MODELS registry."""
from .backbones import ClipFeatures, MaskClipResNet, MaskClipViT
from .heads import MaskClipHead
from .segmentors import MaskClipSegmentor

__all__ = ['ClipFeatures', 'MaskClipResNet', 'MaskClipViT', 'MaskClipHead', 'MaskClipSegmentor']
