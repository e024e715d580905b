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
