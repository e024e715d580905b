"""Registration of this library's modules, in mmseg's style (``mmseg.utils.register_all_modules``)."""
import importlib

#: the submodules whose import registers datasets, transforms, hooks, metrics and models; configs
#: name them in ``custom_imports``
REGISTERING_MODULES = ('maskclip.datasets', 'maskclip.engine', 'maskclip.evaluation',
                       'maskclip.models')


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmseg's modules and ours (``init_default_scope``: make 'mmseg' the default
    registry scope, as mmseg's own function does)."""
    from mmseg.utils import register_all_modules as register_mmseg
    register_mmseg(init_default_scope=init_default_scope)
    for module in REGISTERING_MODULES:
        importlib.import_module(module)
