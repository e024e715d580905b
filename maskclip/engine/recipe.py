"""The GPU count a training recipe assumes, and what a run on another count may do about it.

A config may declare ``recipe_gpus = N``: its batch size per GPU, learning rate and schedule
were set for N processes (ReCLIP's rectification: 1 GPU x batch 1, epoch-based; its
distillation: 4 GPUs x batch 4). Running it on another number of processes silently changes the
recipe (another total batch, another number of updates per epoch, the same learning rate), so
the tools refuse; ``--scale-lr`` keeps the per-GPU batch and scales the learning rate linearly
with the total batch (mmengine's ``auto_scale_lr``), and says so. Configs without
``recipe_gpus`` are not checked.
"""
from __future__ import annotations

import logging
import os

from mmengine.logging import print_log


def launched_world_size(launcher: str) -> int:
    """How many processes this run has (1 without a launcher)."""
    return int(os.environ.get('WORLD_SIZE', '1')) if launcher != 'none' else 1


def check_recipe_world_size(cfg, world_size: int, scale_lr: bool = False, name: str = '') -> None:
    """Refuse a world size other than ``cfg.recipe_gpus``, or rescale the lr with ``scale_lr``."""
    gpus = cfg.get('recipe_gpus')
    if gpus is None or int(gpus) == world_size:
        return
    gpus = int(gpus)
    per_gpu = cfg.train_dataloader.batch_size
    what = name or os.path.basename(cfg.filename or 'this config')
    if not scale_lr:
        single = '`python tools/train.py CONFIG`' if gpus == 1 else \
            f'`bash tools/dist_train.sh CONFIG {gpus}`'
        raise ValueError(
            f'{what} is a recipe for {gpus} GPU(s) x batch {per_gpu} ({gpus * per_gpu} images per '
            f'step) but this run has {world_size} process(es), which would change its total batch '
            f'and its updates per epoch at the same learning rate. Run it with {gpus} process(es) '
            f'({single}), or add --scale-lr to keep batch {per_gpu} per GPU and scale the '
            f'learning rate by {world_size * per_gpu}/{gpus * per_gpu}.')
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=gpus * per_gpu)
    print_log(f'{what}: recipe for {gpus} GPU(s), run on {world_size}: --scale-lr scales the '
              f'learning rate by {world_size * per_gpu}/{gpus * per_gpu} (total batch '
              f'{world_size * per_gpu} instead of {gpus * per_gpu}).', logger='current',
              level=logging.WARNING)
