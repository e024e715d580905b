"""Let mmengine checkpoints load with torch's safe loading (``weights_only=True``) left on.

torch >= 2.6 unpickles ``torch.load`` files with an allowlist; mmengine 0.10.7 calls
``torch.load(filename, map_location)`` and its checkpoints hold more than tensors, so resuming
(and ``load_from`` of a training checkpoint) fails with "Unsupported global". Rather than
turning the check off (``weights_only=False``) or patching ``torch.load``,
:func:`register_checkpoint_safe_globals` allowlists exactly what mmengine writes, found by saving
and resuming a training run
(``torch.serialization.get_unsafe_globals_in_checkpoint`` and the errors of ``torch.load``):

``message_hub`` (the logged scalars, restored on resume) is a dict of
:class:`~mmengine.logging.HistoryBuffer`, each holding numpy arrays, and pickles

* ``mmengine.logging.history_buffer.HistoryBuffer``: the class itself (created empty, then
  ``__setstate__`` fills its ``__dict__`` with the arrays below);
* ``builtins.getattr``: ``HistoryBuffer.__getstate__`` also saves its statistics methods, and
  pickle writes ``HistoryBuffer.min`` as ``getattr(HistoryBuffer, 'min')``. The real ``getattr``
  would let a file read any attribute of anything allowlisted, so a stand-in that only returns
  HistoryBuffer's own ``min`` / ``max`` / ``current`` / ``mean`` is registered under that name;
* ``numpy.ndarray`` and numpy's ``_reconstruct``: the log / count history arrays;
* ``numpy.dtype`` and the dtype classes of numeric / bool dtypes (``numpy.dtypes.Float64DType``,
  ``Int64DType``, ...): an array's or scalar's dtype is rebuilt by calling ``numpy.dtype`` and then
  its class's ``__setstate__``. Logs are float64, counts int64 (int32 where a C long is 32 bits),
  and hooks may log other numeric numpy scalars; these classes only describe plain numbers.
  Object, string and structured dtypes are *not* allowed;
* numpy's ``scalar``: numpy scalars (e.g. a best score kept in the message hub's runtime info).

numpy functions are registered under both ``numpy._core.multiarray`` (numpy 2) and
``numpy.core.multiarray`` (numpy 1), so checkpoints written with either numpy load.
``collections.OrderedDict``, ``set`` and tensors are allowed by torch already.
"""
from __future__ import annotations

import pickle

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

# HistoryBuffer's default statistics methods (HistoryBuffer._set_default_statistics)
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
# dtypes of plain numbers; their dtype classes are inert descriptions of memory layout
NUMERIC_DTYPES = ('?', 'b', 'B', 'h', 'H', 'i', 'I', 'l', 'L', 'q', 'Q', 'e', 'f', 'd')


def _history_buffer_getattr(obj, name):
    """``getattr`` as checkpoints may call it: HistoryBuffer's statistics methods only."""
    if obj is HistoryBuffer and name in HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'Refusing getattr({obj!r}, {name!r}) in a checkpoint: with weights_only loading, maskclip '
        f'allows getattr only for HistoryBuffer.{{{",".join(HISTORY_BUFFER_METHODS)}}}.')


def _with_numpy_aliases(func) -> list:
    """``func`` under its own name and under the numpy 1 / numpy 2 module name of the other."""
    entries = [func]
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        if module != func.__module__:
            entries.append((func, f'{module}.{func.__name__}'))
    return entries


def checkpoint_safe_globals() -> list:
    """The allowlist entries for ``torch.serialization.add_safe_globals`` (see module doc)."""
    reconstruct = np.zeros(1).__reduce__()[0]  # numpy.(_)core.multiarray._reconstruct
    scalar = np.float64(0).__reduce__()[0]  # numpy.(_)core.multiarray.scalar
    dtype_classes = sorted({type(np.dtype(code)) for code in NUMERIC_DTYPES}, key=str)
    return [
        HistoryBuffer,
        (_history_buffer_getattr, 'builtins.getattr'),
        np.ndarray,
        np.dtype,
        *dtype_classes,
        *_with_numpy_aliases(reconstruct),
        *_with_numpy_aliases(scalar),
    ]


def register_checkpoint_safe_globals() -> None:
    """Allowlist what mmengine checkpoints need for ``torch.load(..., weights_only=True)``.

    Idempotent (torch keeps a set). Called when :mod:`maskclip.engine` is imported, which the
    tools and every config (``custom_imports``) do before a checkpoint is loaded.
    """
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
