"""Data transforms registered into mmseg's TRANSFORMS registry."""
from .corruption import CORRUPTIONS, SEVERITIES, ImageCorruption, with_corruption

__all__ = ['CORRUPTIONS', 'SEVERITIES', 'ImageCorruption', 'with_corruption']
