"""MaskCLIP on MMSegmentation 1.x: training-free dense prediction from CLIP.

Importing the package registers its models, datasets and hooks into mmseg's registries.
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registration)
from .apis import Segmenter, create_segmenter
from .inference import inference_model, init_model

__version__ = '0.1.0'
__all__ = ['Segmenter', 'create_segmenter', 'init_model', 'inference_model', '__version__']
