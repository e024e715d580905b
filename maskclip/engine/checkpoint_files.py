"""Checkpoint files that survive a kill at any moment, and a resume that refuses to guess.

mmengine's ``CheckpointHook`` writes a checkpoint in place and deletes the oldest one kept
(``max_keep_ckpts``) *before* writing the new one, then rewrites ``last_checkpoint``. A kill in
between leaves a truncated newest file, or ``last_checkpoint`` naming a file that is gone, and
``--resume`` then fails, or worse, starts again from scratch. :class:`AtomicCheckpointHook`
keeps mmengine's behaviour and bookkeeping but

1. writes every checkpoint (interval, best, last) to a temporary file in the same folder and
   renames it into place (``os.replace`` is atomic on one file system);
2. rewrites ``last_checkpoint`` the same way, after the checkpoint is complete;
3. deletes an outdated checkpoint only after both.

So at every moment ``last_checkpoint`` names a complete file. Training configs get this hook in
place of ``CheckpointHook`` (:func:`use_atomic_checkpoints`, called by the train runner).

:func:`resume_checkpoint` answers ``--resume`` before the Runner starts: the checkpoint to resume
from, or an error saying there is nothing to resume (instead of mmengine's "Auto resumed from the
latest checkpoint None" and a training from scratch) or naming a damaged file and the earlier
checkpoints to resume from instead.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import re
import zipfile
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

AUTO = 'auto'
TMP_SUFFIX = '.tmp'


def write_text_atomically(path: str, text: str) -> None:
    """``text`` into ``path`` through a temporary file and a rename."""
    tmp = f'{path}.{os.getpid()}{TMP_SUFFIX}'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_save(save_checkpoint):
    """``runner.save_checkpoint`` writing to a temporary name, renamed into place when complete
    (main process only, as mmengine saves there only)."""

    def save(out_dir, filename, *args, **kwargs):
        tmp = f'{filename}.{os.getpid()}{TMP_SUFFIX}'
        try:
            save_checkpoint(out_dir, tmp, *args, **kwargs)
            if is_main_process():
                os.replace(osp.join(out_dir, tmp), osp.join(out_dir, filename))
        finally:
            if is_main_process() and osp.exists(osp.join(out_dir, tmp)):
                os.remove(osp.join(out_dir, tmp))

    save.atomic = True
    return save


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same options) whose files survive a kill (see the module
    docstring): temporary file + rename, ``last_checkpoint`` after the file, deletion last."""

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not getattr(runner.save_checkpoint, 'atomic', False):
            runner.save_checkpoint = _atomic_save(runner.save_checkpoint)

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args,
            save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
            meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are folders
                self.file_backend.rmtree(path)


def use_atomic_checkpoints(cfg) -> None:
    """Swap mmengine's ``CheckpointHook`` in ``cfg.default_hooks`` for
    :class:`AtomicCheckpointHook` (same options); another checkpoint hook is left alone."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if hook is not None and hook.get('type') in ('CheckpointHook', CheckpointHook):
        hook['type'] = 'AtomicCheckpointHook'


def _earlier_checkpoints(path: str) -> list:
    """Other checkpoints beside ``path``, newest first (by the number in their name)."""
    folder = osp.dirname(path)

    def number(name):
        found = re.findall(r'\d+', osp.basename(name))
        return int(found[-1]) if found else -1

    others = [p for p in glob.glob(osp.join(folder, '*.pth')) if osp.abspath(p) != osp.abspath(path)]
    return sorted(others, key=number, reverse=True)


def check_checkpoint_file(path: str) -> None:
    """A damaged (truncated) checkpoint raises ``ValueError`` naming it and the earlier ones.
    torch writes checkpoints as zip archives; every member's checksum is verified."""
    problem = None
    if osp.isdir(path):
        found = _earlier_checkpoints(osp.join(path, 'none'))
        raise ValueError(f'{path} is a folder, not a checkpoint: resume a work dir with '
                         f'--work-dir {path} --resume' + (f', or give --resume {found[0]}'
                                                           if found else '') + '.')
    if not osp.isfile(path):
        problem = 'does not exist'
    elif zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            if bad is not None:
                problem = f'is damaged (its member {bad} fails its checksum)'
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            problem = f'is damaged ({error})'
    elif osp.getsize(path) == 0 or _looks_truncated(path):
        problem = 'is damaged (truncated: not a complete checkpoint archive)'
    elif not _is_pickle(path):
        raise ValueError(f'{path} is not a checkpoint (neither a torch zip archive nor a '
                         'pickle); give a .pth file that training wrote.')
    if problem:
        earlier = _earlier_checkpoints(path)
        hint = (f'resume from an earlier one with --resume {earlier[0]}'
                + (f" (others: {', '.join(earlier[1:3])})" if len(earlier) > 1 else '')
                if earlier else 'no earlier checkpoint is left; start again without --resume')
        raise ValueError(f'The checkpoint {path} {problem}; {hint}.')


def _is_pickle(path: str) -> bool:
    """torch's legacy format: a pickle (protocol 2 or later starts with byte 0x80)."""
    with open(path, 'rb') as f:
        return f.read(1) == b'\x80'


def _looks_truncated(path: str) -> bool:
    """A file that starts as a zip archive (``PK``) but has no readable end: cut off."""
    with open(path, 'rb') as f:
        return f.read(2) == b'PK'


def resume_checkpoint(work_dir: str, resume: Optional[str]) -> Optional[str]:
    """The checkpoint ``--resume`` means: ``resume`` itself, or with :data:`AUTO` the one
    ``work_dir/last_checkpoint`` names. Raises ``ValueError`` when there is none (a mistyped or
    empty work dir must not train from scratch) or when the file is damaged."""
    if not resume:
        return None
    if resume != AUTO:
        check_checkpoint_file(resume)
        return resume
    record = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(record):
        raise ValueError(f'--resume: nothing to resume in {work_dir} (no last_checkpoint there). '
                         'Check --work-dir (or the config\'s work_dir), give a checkpoint with '
                         '--resume FILE, or drop --resume to start a new training.')
    with open(record) as f:
        path = f.read().strip()
    moved = osp.join(work_dir, osp.basename(path))
    if not osp.exists(path) and osp.isfile(moved):  # the work dir was moved or copied
        path = moved
    check_checkpoint_file(path)
    return path


def check_checkpoint_fits(model, path: str) -> None:
    """Refuse a checkpoint whose weights are not the model's: mmengine loads non-strictly and
    only logs the missing and unexpected keys, so a checkpoint of another config would be
    evaluated (or resumed) as a half-random model with a plausible result."""
    import torch

    from maskclip.engine.checkpoint import register_checkpoint_safe_globals
    register_checkpoint_safe_globals()
    if '://' not in path:
        check_checkpoint_file(path)
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - any reader error: not a checkpoint we can use
        raise ValueError(f'The checkpoint {path} cannot be read ({type(error).__name__}: '
                         f'{str(error).splitlines()[0]}); is it a training checkpoint?') from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f'The checkpoint {path} holds a {type(checkpoint).__name__}, not a '
                         'state dict.')
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    model = getattr(model, 'module', model)  # DDP and other wrappers
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f'{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}' for k in own
              if k in state and hasattr(state[k], 'shape') and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = [f'{len(found)} {what} (e.g. {", ".join(map(str, found[:2]))})'
                 for what, found in (('weights missing', missing),
                                     ('unexpected weights', unexpected),
                                     ('weights of another shape, file vs model', shapes))
                 if found]
        raise ValueError(f'The checkpoint {path} does not fit the model of the config: '
                         + '; '.join(parts) + '. Was it written by another config?')
