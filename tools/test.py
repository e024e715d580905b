"""Evaluate a segmentor config (MaskCLIP needs no checkpoint) and print the mIoU table.

    python tools/test.py CONFIG [CHECKPOINT] [--clip-weights PATH | --random-weights]
        [--work-dir DIR] [--out DIR] [--show-dir DIR] [--tta] [--cfg-options k=v ...]

Multi-GPU / multi-node: tools/dist_test.sh CONFIG GPUS [...] (torchrun, --launcher pytorch).
"""
import argparse
import os
import sys

from mmengine.config import DictAction

from maskclip.engine.test_runner import build_test_cfg, build_test_runner
from maskclip.utils import RANDOM_WEIGHTS_BANNER, add_clip_weight_args, exit_on_user_error


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


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        runner = build_test_runner(build_test_cfg(args), args.launcher)
        metrics = runner.test()
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return metrics


if __name__ == '__main__':
    main()
