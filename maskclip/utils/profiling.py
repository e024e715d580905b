"""Measuring a call's memory: the peak of what it allocates, on a GPU and on the CPU.

Used by tools/benchmark.py (its peak-MiB column) and by tests that check a computation keeps
less than a whole batch of full-resolution maps alive.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Callable

import torch


def sync(device) -> None:
    """Wait for the GPU's queued work (no-op on the CPU), so that timings cover it."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


@contextlib.contextmanager
def silenced_native_stderr():
    """Discard what native code writes to the process's stderr (the CPU profiler's start /
    stop lines) inside the block; Python exceptions still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, 'w') as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory(fn: Callable, *args, device='cpu') -> float:
    """MiB allocated at the peak of ``fn(*args)`` above what was allocated before the call.

    CUDA: the allocator's peak statistic. CPU: the running sum of every operator's own
    allocations and frees in time order (torch's memory profiler), whose maximum is the peak.
    """
    if torch.device(device).type == 'cuda':
        sync(device)
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn(*args)
        sync(device)
        return (torch.cuda.max_memory_allocated() - before) / 2 ** 20
    with silenced_native_stderr(), torch.profiler.profile(
            activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
        fn(*args)
    running = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        running += event.self_cpu_memory_usage
        peak = max(peak, running)
    return peak / 2 ** 20
