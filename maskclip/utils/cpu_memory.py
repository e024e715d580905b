"""CPU runs keep the memory they free, instead of handing it back to the kernel at once.

glibc's ``malloc`` serves blocks above its mmap threshold (128 KiB, raised dynamically to at most
32 MiB) with fresh ``mmap`` calls and returns them on ``free``; it also trims the top of the heap
once 128 KiB lie free there. A network's activations are such blocks: every layer then takes
new pages from the kernel and pays a page fault per 4 KiB on first touch. On a 2-core machine
open_clip's QuickGELU (three fresh 10-MB buffers) ran ten times slower than its arithmetic, and
the sliding-window evaluation of a ViT-B/16 1.4x slower than with the memory kept.

:func:`keep_freed_memory` raises both thresholds to 1 GiB (``mallopt``), the effect that
PyTorch's CPU performance guide gets by preloading jemalloc or tcmalloc: a process keeps up to
that much freed memory for reuse. The training and test runners and tools/benchmark.py call it
for CPU runs; ``MASKCLIP_KEEP_FREED_MEMORY=0`` leaves malloc as it is. Other C libraries (macOS,
musl) are left alone.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

#: ``mallopt`` parameters (glibc's malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
#: freed memory a process may keep, and the smallest block that gets its own mmap
KEEP_BYTES = 1 << 30
#: the environment variable that turns it off (``0``)
ENV = 'MASKCLIP_KEEP_FREED_MEMORY'

_applied = None


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds to :data:`KEEP_BYTES` once per process. Returns
    whether the thresholds are set (False when turned off by :data:`ENV` or without glibc)."""
    global _applied
    if _applied is None:
        _applied = False
        if os.environ.get(ENV, '1') != '0':
            try:
                libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
                mallopt = libc.mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _applied = bool(mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)
                            and mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
    return _applied


def keep_freed_memory_on_cpu() -> bool:
    """:func:`keep_freed_memory` when this machine has no GPU (the run is on the CPU)."""
    import torch
    return not torch.cuda.is_available() and keep_freed_memory()
