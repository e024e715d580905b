"""Evaluate a segmentor config (MaskCLIP needs no checkpoint) and print the mIoU table.

    python tools/test.py CONFIG [CHECKPOINT] [--clip-weights PATH | --random-weights]
        [--work-dir DIR] [--out DIR] [--show-dir DIR] [--tta] [--cfg-options k=v ...]

Multi-GPU / multi-node: tools/dist_test.sh CONFIG GPUS [...] (torchrun, --launcher pytorch).
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from maskclip.datasets import check_dataset_layout  # noqa: E402
from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,  # noqa: E402
                            check_clip_weights, exit_on_user_error, load_tool_cfg,
                            init_cpu_process_group)
from maskclip.utils.runtime import adapt_cfg_to_machine  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a segmentor (mmseg test).')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (not needed for training-free MaskCLIP)')
    parser.add_argument('--work-dir', help='where logs and metrics are saved')
    parser.add_argument('--out', help='save the predicted label maps (PNG) to this directory')
    parser.add_argument('--show', action='store_true', help='show predictions in a window')
    parser.add_argument('--show-dir', help='save image / ground truth / prediction drawings here')
    parser.add_argument('--wait-time', type=float, default=2, help='seconds between --show frames')
    parser.add_argument('--tta', action='store_true', help="test-time augmentation (the config's "
                        'tta_pipeline and tta_model)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.decode_head.key_smoothing=True')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_visualization(cfg, args):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit('The config has no default_hooks.visualization; --show/--show-dir need it.')
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        vis = cfg.visualizer
        vis['save_dir'] = args.show_dir
        hook['interval'] = 1


def build_cfg(args):
    cfg = load_tool_cfg(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    adapt_cfg_to_machine(cfg, args.launcher)  # no CUDA: SyncBN -> BN, DDP without device ids
    # a training config's cudnn_benchmark is for its fixed crops; test images vary in size, and
    # cuDNN would benchmark again for every new shape
    cfg.setdefault('env_cfg', {})['cudnn_benchmark'] = False
    if args.out:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    return cfg


def build_runner(cfg, launcher: str = 'none') -> Runner:
    """The test Runner of ``cfg``, after the checks that fail in seconds (weights, data layout).

    Shared with tools/robustness.py; call it inside ``exit_on_user_error()``.
    """
    check_clip_weights(cfg.model)
    check_dataset_layout(cfg.test_dataloader.dataset)
    init_cpu_process_group(launcher)
    return Runner.from_cfg(cfg)


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        runner = build_runner(build_cfg(args), args.launcher)
        metrics = runner.test()
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return metrics


if __name__ == '__main__':
    main()
