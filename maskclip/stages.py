"""Multi-stage training: one config lists stage configs that run one after another (torch-free:
the reproduction scripts read pipeline configs without importing the training code).

A pipeline config (e.g. ReCLIP's rectify -> distill) holds only::

    stages = [
        dict(name='rectification', config='reclip-rectification_....py'),
        dict(name='distillation', config='reclip-distillation_....py',
             checkpoint_to='model.teacher_checkpoint'),   # gets the previous stage's checkpoint
    ]

Stage configs are paths relative to the pipeline config and are ordinary configs (each can be
trained alone with ``tools/train.py``). Every stage trains in ``<work dir>/<stage name>``; when it
ends, ``stage_done.json`` records the checkpoint it hands on (its best one when its config keeps
the best, ``CheckpointHook(save_best=...)``, else its final one), so ``--resume`` skips finished stages and
resumes the interrupted one from its latest checkpoint.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

DONE_FILE = 'stage_done.json'


@dataclass
class Stage:
    name: str
    config: str
    checkpoint_to: Optional[str] = None  # config key receiving the previous stage's checkpoint


def read_stages(cfg) -> List[Stage]:
    """The stages of a pipeline config, with config paths resolved and checked."""
    root = osp.dirname(osp.abspath(cfg.filename))
    entries = cfg.get('stages') or []
    if not entries:
        raise ValueError(f'{cfg.filename}: `stages` is empty; list dict(name=..., config=...).')
    stages = []
    for index, entry in enumerate(entries):
        unknown = set(entry) - {'name', 'config', 'checkpoint_to'}
        if unknown or 'name' not in entry or 'config' not in entry:
            raise ValueError(f'{cfg.filename}: stage {index} must be dict(name=..., config=..., '
                             f'[checkpoint_to=...]); got keys {sorted(entry)}.')
        path = entry['config'] if osp.isabs(entry['config']) else osp.join(root, entry['config'])
        if not osp.isfile(path):
            raise ValueError(f"{cfg.filename}: stage '{entry['name']}' config {path} not found.")
        if index == 0 and entry.get('checkpoint_to'):
            raise ValueError(f'{cfg.filename}: the first stage has no previous checkpoint; '
                             'remove its checkpoint_to.')
        stages.append(Stage(entry['name'], path, entry.get('checkpoint_to')))
    names = [stage.name for stage in stages]
    if len(set(names)) != len(names):
        raise ValueError(f'{cfg.filename}: stage names must be unique, got {names}.')
    return stages


def split_stage_options(options: Optional[dict], stages: List[Stage]):
    """``--cfg-options``: keys starting with a stage name go to that stage, the rest to all.

    ``rectification.train_cfg.max_epochs=1`` changes only the stage named ``rectification``.
    """
    common, per_stage = {}, {stage.name: {} for stage in stages}
    for key, value in (options or {}).items():
        head, _, rest = key.partition('.')
        if head in per_stage and rest:
            per_stage[head][rest] = value
        else:
            common[key] = value
    return common, per_stage


def finished_checkpoint(work_dir: str) -> Optional[str]:
    """The final checkpoint of a stage that ran to its end in ``work_dir``, else None."""
    path = osp.join(work_dir, DONE_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        checkpoint = json.load(f)['checkpoint']
    return checkpoint if osp.isfile(checkpoint) else None


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint mmengine's CheckpointHook saved last in ``work_dir`` (None if none)."""
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        checkpoint = f.read().strip()
    return checkpoint if osp.isfile(checkpoint) else None


def kept_checkpoint(runner) -> Optional[str]:
    """The checkpoint a finished stage hands on: the best one when its config keeps the best
    (``CheckpointHook(save_best=...)``; the ReCLIP authors keep the best validation epoch of
    both stages, dogehhh/ReCLIP@99b64d7 ``tools/train.py:168-170``, ``tools/distill.py:164-166``),
    else the last one saved."""
    best = runner.message_hub.get_info('best_ckpt')
    if best and osp.isfile(best):
        return best
    return last_checkpoint(runner.work_dir)


def mark_finished(work_dir: str, checkpoint: str) -> None:
    """Record the stage's final checkpoint (written to a temporary file, then renamed: a kill
    never leaves a half-written record)."""
    path = osp.join(work_dir, DONE_FILE)
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(dict(checkpoint=osp.abspath(checkpoint)), f)
    os.replace(tmp, path)


def clear_finished(work_dir: str) -> None:
    path = osp.join(work_dir, DONE_FILE)
    if osp.isfile(path):
        os.remove(path)


def from_rank0(compute):
    """``compute()`` evaluated on rank 0 only, its result returned on every rank.

    Stage records (``stage_done.json``, ``last_checkpoint``) live in a work dir that all ranks
    share; rank 0 alone reads (and writes) them, so that every rank takes the same decision even
    while a file is being rewritten. Without a process group it is a plain call.
    """
    from mmengine.dist import broadcast_object_list, get_rank, get_world_size
    if get_world_size() == 1:
        return compute()
    box = [compute() if get_rank() == 0 else None]
    broadcast_object_list(box, src=0)
    return box[0]


def banner(text: str) -> str:
    line = '=' * max(60, len(text) + 8)
    return f'\n{line}\n    {text}\n{line}'
