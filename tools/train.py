"""Train a segmentor (MaskCLIP+ and any mmseg model) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--cfg-options k=v ...] [--clip-weights PATH | --random-weights]

``--resume`` alone continues from the latest checkpoint in the work dir; ``--resume FILE``
from that checkpoint. On a machine without CUDA, SyncBN becomes BN, DDP runs over gloo on CPU,
and ``--amp`` is refused (maskclip.utils.runtime.adapt_cfg_to_machine).

Multi-GPU / multi-node: tools/dist_train.sh CONFIG GPUS [...] (torchrun, --launcher pytorch).
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from maskclip.datasets import check_dataset_layout  # noqa: E402
from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,  # noqa: E402
                            check_clip_weights, exit_on_user_error, load_tool_cfg,
                            init_cpu_process_group)
from maskclip.utils.runtime import adapt_cfg_to_machine  # noqa: E402

AUTO = 'auto'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor (mmseg train).')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints are saved')
    parser.add_argument('--resume', nargs='?', const=AUTO, default=None, metavar='CHECKPOINT',
                        help='resume training: alone, from the latest checkpoint in the work dir; '
                             'with a path, from that checkpoint')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed-precision training (needs a GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=1000')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg):
    """``--amp`` as in mmseg: OptimWrapper -> AmpOptimWrapper with dynamic loss scaling."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.', logger='current',
                  level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError('--amp works only when optim_wrapper.type is OptimWrapper, '
                         f'but the config has {optim_wrapper}.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def build_cfg(args):
    cfg = load_tool_cfg(args)
    if args.amp:
        enable_amp(cfg)
    if args.resume == AUTO:  # the Runner finds the latest checkpoint of the work dir
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    adapt_cfg_to_machine(cfg, args.launcher, training=True)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = build_cfg(args)
        check_clip_weights(cfg.model)
        check_dataset_layout(cfg.train_dataloader.dataset)
        init_cpu_process_group(args.launcher)
        # a custom runner when the config names one (mmseg's tools/train.py does the same)
        runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
        runner.train()
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return runner


if __name__ == '__main__':
    main()
