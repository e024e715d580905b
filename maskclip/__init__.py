"""MaskCLIP on MMSegmentation 1.x: training-free dense prediction from CLIP.

Importing the package registers nothing and imports no model code. Configs list the submodules
that register into mmseg's registries in ``custom_imports`` (``maskclip.models``,
``maskclip.datasets``, ``maskclip.engine``, ``maskclip.evaluation``), and scripts call
:func:`maskclip.utils.register_all_modules`, as with ``mmseg.utils.register_all_modules``. The
Python API (``create_segmenter``, ``init_model``, ``inference_model``) is imported on first use.
"""
import importlib

__version__ = '0.1.0'

#: public names -> the submodule that defines them (imported when first used)
_LAZY = {
    'Segmenter': 'maskclip.apis',
    'create_segmenter': 'maskclip.apis',
    'init_model': 'maskclip.inference',
    'inference_model': 'maskclip.inference',
    'register_all_modules': 'maskclip.utils',
}
__all__ = ['Segmenter', 'create_segmenter', 'init_model', 'inference_model',
           'register_all_modules', '__version__']


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'maskclip' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
