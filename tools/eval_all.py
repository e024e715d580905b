"""One last-block mode on the field's 8 training-free benchmarks, beside the published numbers.

    python tools/eval_all.py --mode sclip [--protocol own|common] [--datasets voc21 ...]
        [--pamr] [--dry-run] [--out-dir DIR] [--work-dir DIR] [--cfg-options k=v ...]
        [--clip-weights PATH | --random-weights]

``--protocol own`` (default) runs the method of the mode with exactly its released settings:
configs/{sclip,clearclip,naclip}/ (short side, windows, logit scale, thresholds, class files,
precision per benchmark), so each row reproduces that paper; ``--pamr`` adds the method's own
PAMR (NACLIP: the naclip-pamr configs of its README table; SCLIP: 10 steps, dilations (8, 16);
ClearCLIP has none). ``--protocol common`` runs any mode on one shared setting,
configs/protocol/training-free_vit-b16_<dataset>-*.py with ``model.backbone.mode=<mode>``, the
fair comparison no paper provides; ``--pamr`` there is 10 steps, dilations 1/2/4/8/12/24.
``--dry-run`` lists each benchmark's config and settings and stops.

Each benchmark runs as tools/test.py would (same config handling, weight and data checks,
Runner), one after the other; ``--cfg-options`` apply to every benchmark. Every dataset and the
weights are checked before the first evaluation starts; a progress line is logged as each
dataset starts and ends.

Prints one table, dataset | paper | README | ours | diff (mIoU, %), and writes it to
OUT_DIR/eval_all_<mode>_<protocol>.csv and .md (default OUT_DIR: work_dirs/eval_all/<mode>).
Own protocol: the published numbers of the config's rows in configs/reproduction/published.yaml
(the paper's table; the authors' README where their released configs give other numbers),
diff against the README number where there is one. Common protocol: the method's paper numbers
(its comparison-table rows of configs/reproduction/published.yaml), obtained under its own
settings, for reference.
"""
import argparse
import os
import sys

from mmengine.config import DictAction

from maskclip.engine.benchmarks import (BENCHMARKS, PROTOCOLS, BenchmarkOptions, modes,
                                        run_benchmarks)
from maskclip.utils import RANDOM_WEIGHTS_BANNER, add_clip_weight_args, exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='A last-block mode on the 8 training-free benchmarks vs published mIoU.')
    parser.add_argument('--mode', required=True, choices=modes(),
                        help='the last-block mode (own protocol: its method\'s configs)')
    parser.add_argument('--protocol', choices=PROTOCOLS, default='own',
                        help='own: the method\'s released settings per benchmark (default); '
                        'common: one shared setting for every mode')
    parser.add_argument('--datasets', nargs='+', choices=list(BENCHMARKS),
                        default=list(BENCHMARKS), metavar='DATASET',
                        help=f'benchmarks to run (default: all of {", ".join(BENCHMARKS)})')
    parser.add_argument('--out-dir', help='where eval_all_<mode>_<protocol>.csv/.md go '
                        '(default: work_dirs/eval_all/<mode>)')
    parser.add_argument('--work-dir', help='logs go to WORK_DIR/<dataset> (default: the out dir)')
    parser.add_argument('--pamr', action='store_true',
                        help='PAMR post-processing (own: the method\'s; common: 10 iterations, '
                        'dilations 1,2,4,8,12,24)')
    parser.add_argument('--dry-run', action='store_true',
                        help='list every benchmark\'s config and settings, run nothing')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every benchmark config, e.g. '
                        'model.decode_head.logit_scale=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        options = BenchmarkOptions(
            args.mode, args.protocol, args.datasets, args.pamr, args.out_dir, args.work_dir,
            args.cfg_options, args.clip_weights, args.random_weights, args.launcher)
        results = run_benchmarks(options, dry_run=args.dry_run)
    if args.random_weights and not args.dry_run:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return results


if __name__ == '__main__':
    main()
