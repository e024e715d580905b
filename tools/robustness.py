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
import csv
import os
import os.path as osp
import sys
import time

from mmengine.config import DictAction
from mmengine.dist import is_main_process
from mmengine.logging import print_log


from maskclip.datasets.transforms import CORRUPTIONS, SEVERITIES, with_corruption
from maskclip.engine.test_runner import build_test_cfg, build_test_runner
from maskclip.reproduction import format_duration
from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,
                            exit_on_user_error)

CLEAN = 'clean'


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


def conditions_of(args) -> list:
    """``(corruption, severity)`` pairs to evaluate, the clean one ``(CLEAN, None)`` first."""
    return [(CLEAN, None)] + [(c, s) for c in args.corruptions for s in args.severities]


def build_loop(runner, cfg, corruption: str, severity, seed: int):
    """A test loop over the config's test set, corrupted unless ``corruption`` is ``CLEAN``."""
    dataloader = dict(cfg.test_dataloader)
    if corruption != CLEAN:
        # a config may set the channel order its authors fed ImageNet-C (MaskCLIP: 'bgr')
        dataloader['dataset'] = with_corruption(cfg.test_dataloader.dataset, corruption,
                                                severity, seed,
                                                cfg.get('corruption_channels', 'rgb'))
    loop = dict(cfg.get('test_cfg') or {})
    loop.setdefault('type', 'TestLoop')
    return runner.build_test_loop(dict(loop, dataloader=dataloader))


def miou_of(metrics: dict) -> float:
    if 'mIoU' not in metrics:
        raise ValueError(f'The test evaluator reports no mIoU (it gives {sorted(metrics)}); '
                         "robustness needs test_evaluator=dict(type='IoUMetric', ...).")
    return float(metrics['mIoU'])


def evaluate_all(runner, cfg, conditions: list, seed: int) -> dict:
    """mIoU of every condition, one test loop each, within one run of the runner's hooks.

    Like ``Runner.test`` (before_run, checkpoint, loop, after_run) with one loop per condition,
    so the model is built and loaded once. Logs progress and an estimate of the time left.
    """
    results, start = {}, time.time()
    runner.call_hook('before_run')
    runner.load_or_resume()
    try:
        for index, (corruption, severity) in enumerate(conditions, 1):
            name = CLEAN if corruption == CLEAN else f'{corruption} severity {severity}'
            print_log(f'[robustness] {index}/{len(conditions)}: {name} ...', logger='current')
            metrics = build_loop(runner, cfg, corruption, severity, seed).run()
            results[corruption, severity] = miou_of(metrics)
            elapsed = time.time() - start
            left = elapsed / index * (len(conditions) - index)
            print_log(f'[robustness] {index}/{len(conditions)}: {name}: mIoU '
                      f'{results[corruption, severity]:.2f} ({format_duration(elapsed)} '
                      f'elapsed, about {format_duration(left)} left)', logger='current')
    finally:
        runner.call_hook('after_run')
    return results


def table_rows(results: dict, corruptions: list, severities: list) -> list:
    """``[key, label, [mIoU per severity], mean]`` rows: clean first, then each corruption."""
    clean = results[CLEAN, None]
    rows = [[CLEAN, CLEAN, [clean] * len(severities), clean]]
    for corruption in corruptions:
        values = [results[corruption, s] for s in severities]
        rows.append([corruption, CORRUPTIONS[corruption], values, sum(values) / len(values)])
    return rows


def format_table(rows: list, severities: list) -> str:
    """Table 4's layout: one row per corruption (and clean), one column per severity, mean."""
    header = ['Corruption'] + [f'level {s}' for s in severities] + ['mean']
    body = [[label] + [f'{v:.2f}' for v in values] + [f'{mean:.2f}']
            for _, label, values, mean in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]

    def line(cells):
        return '| ' + ' | '.join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + ' |'

    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    return '\n'.join([rule, line(header), rule, line(body[0]), rule,
                      *(line(cells) for cells in body[1:]), rule])


def write_csv(path: str, rows: list, severities: list) -> None:
    with open(path, 'w', newline='') as file:
        writer = csv.writer(file)
        writer.writerow(['corruption'] + [f'severity {s}' for s in severities] + ['mean'])
        for key, _, values, mean in rows:
            writer.writerow([key] + [f'{v:.2f}' for v in values] + [f'{mean:.2f}'])


def plot(path: str, rows: list, severities: list, title: str) -> None:
    """mIoU vs severity, one line per corruption, the clean mIoU dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.axhline(rows[0][3], color='black', linestyle='--', label=CLEAN)
    for _, label, values, _ in rows[1:]:
        ax.plot(severities, values, marker='o', label=label)
    ax.set(xlabel='severity', ylabel='mIoU', xticks=severities, title=title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(rows: list, args, out_dir: str) -> None:
    print(f'\nmIoU under ImageNet-C corruptions ({osp.basename(args.config)}, seed {args.seed})')
    print(format_table(rows, args.severities), flush=True)
    os.makedirs(out_dir, exist_ok=True)
    write_csv(osp.join(out_dir, 'robustness.csv'), rows, args.severities)
    plot(osp.join(out_dir, 'robustness.png'), rows, args.severities,
         osp.splitext(osp.basename(args.config))[0])
    print(f'Saved {osp.join(out_dir, "robustness.csv")} and robustness.png', flush=True)


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        cfg = build_test_cfg(args)
        conditions = conditions_of(args)
        # a pipeline without LoadImageFromFile fails here, before the model is built
        with_corruption(cfg.test_dataloader.dataset, *conditions[1], args.seed)
        runner = build_test_runner(cfg, args.launcher)
        results = evaluate_all(runner, cfg, conditions, args.seed)
    rows = table_rows(results, args.corruptions, args.severities)
    if is_main_process():
        report(rows, args, args.out_dir or cfg.work_dir)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return rows


if __name__ == '__main__':
    main()
