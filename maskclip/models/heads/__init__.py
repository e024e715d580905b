from .deeplabv2_head import DeepLabV2Head
from .maskclip_head import MaskClipHead

__all__ = ['DeepLabV2Head', 'MaskClipHead']
