"""Distributed start-up that also works on machines without a GPU."""
import os

import torch
import torch.distributed as dist


def init_cpu_process_group(launcher: str) -> bool:
    """Start a gloo process group for ``--launcher pytorch`` when CUDA is absent.

    mmengine's ``init_dist`` always calls ``torch.cuda.set_device``, which fails without a GPU;
    a group that already exists is reused by the Runner. Returns True when it started one.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return False
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))
    return True


def init_process_group(launcher: str) -> bool:
    """Start the process group of ``--launcher pytorch`` now (NCCL with CUDA, else gloo), so that
    work done before a Runner exists (multi-stage bookkeeping) knows its rank. A Runner reuses
    it. Returns True when it started one."""
    if launcher != 'pytorch' or dist.is_initialized():
        return False
    if not torch.cuda.is_available():
        return init_cpu_process_group(launcher)
    from mmengine.dist import init_dist
    init_dist('pytorch', backend='nccl')
    return True


def close_process_group() -> None:
    """Wait for every rank, then destroy the process group, so that no rank exits while another
    is still in a collective (gloo aborts such a process: 'terminate called without an active
    exception')."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
