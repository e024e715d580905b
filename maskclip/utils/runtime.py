"""Fit a training / test config to the machine it runs on (GPU or CPU only)."""
from __future__ import annotations

from typing import Any, Iterator, Optional

import torch
from mmengine.logging import MessageHub, print_log

# Norm layers that need CUDA (torch's SyncBatchNorm, mmcv's CUDA op); plain BN on CPU.
SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN')


def _dicts_in(node: Any) -> Iterator[dict]:
    """Every dict nested anywhere in ``node`` (dicts, lists, tuples), ``node`` included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts_in(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from _dicts_in(item)


def _is_ddp_type(wrapper_type) -> bool:
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    cls = MODEL_WRAPPERS.get(wrapper_type) if isinstance(wrapper_type, str) else wrapper_type
    return isinstance(cls, type) and issubclass(cls, DistributedDataParallel)


def adapt_cfg_to_machine(cfg, launcher: str = 'none', *, training: bool = False,
                         cuda: Optional[bool] = None):
    """Make ``cfg`` run where CUDA is absent; with CUDA it is returned untouched.

    Without CUDA (``cuda`` defaults to ``torch.cuda.is_available()``):

    * every ``type='SyncBN'`` / ``'MMSyncBN'`` anywhere in ``cfg.model`` becomes ``'BN'`` (both
      need CUDA; mmengine reverts SyncBN itself only when not distributed), and a
      ``cfg.sync_bn`` request (convert BN to SyncBN under DDP) is dropped;
    * under a launcher, the process-group backend ``nccl`` becomes ``gloo`` (the group the tools
      start with ``init_cpu_process_group``), and the model is wrapped in DDP with
      ``device_ids=None``: mmengine passes ``device_ids=[LOCAL_RANK]`` as a default argument,
      which DDP rejects for CPU modules, and a key in the config wins over it. A config that
      names a non-DDP wrapper (e.g. ``InferenceOnlyWrapper``) keeps it; one that names a DDP
      wrapper keeps its other keys. ``find_unused_parameters`` (top level, as mmengine reads it,
      or in the wrapper config) and mmengine's ``broadcast_buffers=False`` are kept;
    * with ``training=True``, an ``AmpOptimWrapper`` (``--amp``) is an error, not a silent
      fall-back to fp32: mmengine's AMP wrapper is GPU/NPU/MLU only, and a run asked for in mixed
      precision should not quietly change its numerics and speed. Raises ``ValueError``.

    Returns ``cfg`` (changed in place).
    """
    if cuda is None:
        cuda = torch.cuda.is_available()
    if cuda:
        return cfg

    replaced = 0
    for node in _dicts_in(cfg.get('model')):
        if node.get('type') in SYNC_BN_TYPES:
            node['type'] = 'BN'
            replaced += 1
    if replaced:
        print_log(f'No CUDA: replaced {replaced} SyncBN norm config(s) in the model by BN.',
                  logger='current')
    if cfg.get('sync_bn'):
        print_log(f'No CUDA: ignoring sync_bn={cfg.sync_bn!r} (SyncBN needs CUDA).',
                  logger='current')
        cfg.sync_bn = None

    if launcher != 'none':
        dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
        if dist_cfg.get('backend', 'nccl') == 'nccl':
            dist_cfg['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg')
        if wrapper is None:
            cfg.model_wrapper_cfg = dict(
                type='MMDistributedDataParallel', device_ids=None, broadcast_buffers=False,
                find_unused_parameters=cfg.get('find_unused_parameters', False))
        elif _is_ddp_type(wrapper.get('type', 'MMDistributedDataParallel')):
            wrapper['device_ids'] = None
            if 'find_unused_parameters' not in wrapper and 'find_unused_parameters' in cfg:
                wrapper['find_unused_parameters'] = cfg.find_unused_parameters

    if training:
        optim_wrapper = cfg.get('optim_wrapper') or {}
        if optim_wrapper.get('type') == 'AmpOptimWrapper':
            raise ValueError('Mixed-precision training (--amp / AmpOptimWrapper) needs a GPU and '
                             'none is available here. Train without --amp (fp32) on this '
                             'machine, or set optim_wrapper.type=OptimWrapper.')
    return cfg


def current_iteration() -> int:
    """The training iteration mmengine's runner is at (0 outside a runner)."""
    return int(MessageHub.get_current_instance().get_info('iter', 0) or 0)
