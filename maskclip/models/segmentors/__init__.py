from .maskclip_segmentor import MaskClipSegmentor

__all__ = ['MaskClipSegmentor']
