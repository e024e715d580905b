"""ReCLIP's modules."""
from reclip.models.rectification_head import ReCLIPRectificationHead

__all__ = ['ReCLIPRectificationHead']
