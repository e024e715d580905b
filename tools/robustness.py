"""mIoU under ImageNet-C corruptions, laid out as the MaskCLIP paper's Table 4 (Sec. 4.1).

    python tools/robustness.py CONFIG [CHECKPOINT] [--corruptions NAME ...] [--severities 1 3 5]
        [--seed 0] [--work-dir DIR] [--out-dir DIR] [--tta] [--cfg-options k=v ...]
        [--clip-weights PATH | --random-weights]

Evaluates the clean test set, then every corruption x severity (default: the paper's 8 corruptions
x severities 1-5), with ``ImageCorruption`` inserted right after ``LoadImageFromFile`` in the test
pipeline (the same corrupted images in every run for a given --seed). Prints the table (rows:
corruptions plus the clean row, columns: severities and their mean) and writes
``robustness.csv`` and ``robustness.png`` (mIoU vs severity) to --out-dir (default: the work dir).
The model is built once; the config, weights and checks are those of tools/test.py.

Multi-GPU: torchrun --nproc-per-node N tools/robustness.py CONFIG ... --launcher pytorch.
"""
import argparse
import os
import sys

from mmengine.config import DictAction
from mmengine.dist import is_main_process

from maskclip.corruptions import CORRUPTIONS, SEVERITIES
from maskclip.engine.robustness import report, table_rows
from maskclip.engine.test_runner import build_test_cfg, build_test_runner
from maskclip.utils import RANDOM_WEIGHTS_BANNER, add_clip_weight_args, exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='mIoU of a segmentor under ImageNet-C corruptions (MaskCLIP Table 4).')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (not needed for training-free MaskCLIP)')
    parser.add_argument('--corruptions', nargs='+', choices=list(CORRUPTIONS),
                        default=list(CORRUPTIONS), metavar='NAME',
                        help=f'corruptions to evaluate (default: all of {", ".join(CORRUPTIONS)})')
    parser.add_argument('--severities', nargs='+', type=int, choices=SEVERITIES,
                        default=list(SEVERITIES), help='severities 1-5 to evaluate (default: all)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the corruptions (same seed, same corrupted images)')
    parser.add_argument('--work-dir', help='where logs are saved')
    parser.add_argument('--out-dir', help='where robustness.csv/.png go (default: the work dir)')
    parser.add_argument('--tta', action='store_true', help="test-time augmentation (the config's "
                        'tta_pipeline and tta_model)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.decode_head.key_smoothing=True')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_clip_weight_args(parser)
    parser.set_defaults(show=False, show_dir=None, out=None)  # what test.build_cfg also reads
    args = parser.parse_args(argv)
    args.corruptions = list(dict.fromkeys(args.corruptions))  # keep order, drop repeats
    args.severities = sorted(set(args.severities))
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = build_test_cfg(args)
        cfg.test_cfg = dict(type='RobustnessLoop', corruptions=args.corruptions,
                            severities=args.severities, seed=args.seed,
                            channels=cfg.get('corruption_channels', 'rgb'),
                            fp16=(cfg.get('test_cfg') or {}).get('fp16', False))
        runner = build_test_runner(cfg, args.launcher)
        runner.test()
    rows = table_rows(runner.test_loop.results, args.corruptions, args.severities)
    if is_main_process():
        report(rows, args.config, args.seed, args.severities, args.out_dir or cfg.work_dir)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return rows


if __name__ == '__main__':
    main()
