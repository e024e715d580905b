from .base import ClipFeatures, FrozenClipEncoder, resize_pos_embed
from .clip_resnet import MaskClipResNet
from .clip_vit import MaskClipViT

__all__ = ['ClipFeatures', 'FrozenClipEncoder', 'resize_pos_embed', 'MaskClipResNet',
           'MaskClipViT']
