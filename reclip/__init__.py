"""ReCLIP (CVPR 2024): rectify CLIP's class- and space-preference bias, then distil.

Builds on ``maskclip`` (encoders, text classifier, training tools); nothing in ``maskclip``
imports from here. ``reclip.models`` has the rectification stage (Reference prompt, positional
bias, rectification head and segmentor) and the distillation stage (student classifier and
segmentor); configs are in ``configs/reclip`` (``custom_imports`` lists ``reclip.models``) and
``tools/train.py`` runs both stages in order. Importing the package registers nothing;
:func:`register_all_modules` registers mmseg's, maskclip's and ReCLIP's modules.
"""
import importlib


def register_all_modules(init_default_scope: bool = True) -> None:
    """maskclip's :func:`~maskclip.utils.register_all_modules`, then ReCLIP's models."""
    from maskclip.utils import register_all_modules as register_maskclip
    register_maskclip(init_default_scope=init_default_scope)
    importlib.import_module('reclip.models')
