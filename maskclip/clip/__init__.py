"""Loading open_clip CLIP models (see :mod:`maskclip.clip.loader`)."""
from .loader import (ClipSpec, ClipWeightsError, check_model_name, check_weights, clear_cache,
                     copy_module, load_clip)

__all__ = ['ClipSpec', 'ClipWeightsError', 'check_model_name', 'check_weights', 'clear_cache',
           'copy_module', 'load_clip']
