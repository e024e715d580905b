from .maskclip_plus import MaskClipPlusSegmentor
from .maskclip_segmentor import MaskClipSegmentor

__all__ = ['MaskClipPlusSegmentor', 'MaskClipSegmentor']
