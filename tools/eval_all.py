"""One last-block mode on the field's 8 training-free benchmarks, beside the published numbers.

    python tools/eval_all.py --mode sclip [--datasets voc21 context60 ...] [--out-dir DIR]
        [--work-dir DIR] [--pamr] [--cfg-options k=v ...] [--clip-weights PATH | --random-weights]

Runs configs/protocol/training-free_vit-b16_<dataset>-*.py (their per-dataset short side,
sliding window, logit scale and background threshold) with ``model.backbone.mode=<mode>``,
one after the other, each as tools/test.py would (same config handling, weight and data checks,
Runner). ``--cfg-options`` apply to every benchmark, ``--mode`` after them. ``--pamr`` turns on
PAMR post-processing (10 iterations, dilations 1/2/4/8/12/24). Every dataset and the weights are
checked before the first evaluation starts.

Prints one table, dataset | published | ours | diff (mIoU, %), where "published" is the number
of the method of that mode (configs/protocol/published.yaml; MaskCLIP, SCLIP, ClearCLIP,
NACLIP), and writes it to OUT_DIR/eval_all_<mode>.csv and .md (default OUT_DIR:
work_dirs/eval_all/<mode>). A progress line is logged as each dataset starts and ends.
"""
import argparse
import csv
import glob
import os
import os.path as osp
import sys
import time
from types import SimpleNamespace

import yaml
from mmengine.config import DictAction
from mmengine.dist import is_main_process

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a clone, too

from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,  # noqa: E402
                            exit_on_user_error, load_script)

PROTOCOL_DIR = osp.join(ROOT, 'configs', 'protocol')
PUBLISHED = osp.join(PROTOCOL_DIR, 'published.yaml')
#: benchmark key -> table label, in the field's column order
BENCHMARKS = {
    'voc21': 'VOC21',
    'context60': 'Context60',
    'coco-object': 'COCO-Object',
    'voc20': 'VOC20',
    'context59': 'Context59',
    'coco-stuff': 'COCO-Stuff171',
    'cityscapes': 'Cityscapes',
    'ade20k': 'ADE20K',
}
PAMR_CFG = dict(iterations=10, dilations=(1, 2, 4, 8, 12, 24))
COLUMNS = ('dataset', 'published', 'ours', 'diff')


test_tool = load_script(osp.join(ROOT, 'tools', 'test.py'), 'maskclip_test_tool')


def modes() -> tuple:
    """The encoder's last-block modes, read when the tool runs (new modes appear by themselves)."""
    from maskclip.models.backbones.base import MODES
    return tuple(MODES)


def config_of(dataset: str) -> str:
    """configs/protocol/training-free_vit-b16_<dataset>-<size>-slide<crop>.py (exactly one)."""
    found = sorted(glob.glob(osp.join(PROTOCOL_DIR, f'training-free_vit-b16_{dataset}-*.py')))
    if len(found) != 1:
        raise ValueError(f'Expected one protocol config for {dataset!r} in {PROTOCOL_DIR}, '
                         f'found {[osp.basename(p) for p in found]}.')
    return found[0]


def load_published(path: str = PUBLISHED) -> dict:
    """``{mode: {dataset: mIoU}}`` from published.yaml."""
    with open(path) as f:
        return yaml.safe_load(f) or {}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='A last-block mode on the 8 training-free benchmarks vs published mIoU.')
    parser.add_argument('--mode', required=True, choices=modes(),
                        help='model.backbone.mode of every benchmark config')
    parser.add_argument('--datasets', nargs='+', choices=list(BENCHMARKS),
                        default=list(BENCHMARKS), metavar='DATASET',
                        help=f'benchmarks to run (default: all of {", ".join(BENCHMARKS)})')
    parser.add_argument('--out-dir', help='where eval_all_<mode>.csv/.md go '
                        '(default: work_dirs/eval_all/<mode>)')
    parser.add_argument('--work-dir', help='logs go to WORK_DIR/<dataset> (default: the out dir)')
    parser.add_argument('--pamr', action='store_true',
                        help='PAMR post-processing (10 iterations, dilations 1,2,4,8,12,24)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every benchmark config, e.g. '
                        'model.decode_head.logit_scale=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    args.datasets = list(dict.fromkeys(args.datasets))  # keep order, drop repeats
    args.out_dir = args.out_dir or osp.join('work_dirs', 'eval_all', args.mode)
    args.work_dir = args.work_dir or args.out_dir
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def dataset_cfg(args, dataset: str):
    """The config of one benchmark as tools/test.py builds it, with the mode (and PAMR) set."""
    options = dict(args.cfg_options or {})
    options['model.backbone.mode'] = args.mode
    if args.pamr:
        options['model.pamr'] = dict(PAMR_CFG)
    test_args = SimpleNamespace(
        config=config_of(dataset), checkpoint=None, work_dir=osp.join(args.work_dir, dataset),
        cfg_options=options, launcher=args.launcher, clip_weights=args.clip_weights,
        random_weights=args.random_weights, show=False, show_dir=None, tta=False, out=None)
    return test_tool.build_cfg(test_args)


def preflight(cfgs: dict) -> None:
    """Weights and every dataset's files, before anything long starts."""
    from maskclip.datasets.layout import DatasetLayoutError, dataset_layout_problems
    from maskclip.utils import check_clip_weights
    for cfg in cfgs.values():
        check_clip_weights(cfg.model)
    lines = []
    for dataset, cfg in cfgs.items():
        for dataset_type, missing in dataset_layout_problems(cfg.test_dataloader.dataset):
            lines.append(f'{dataset} ({dataset_type}):')
            lines.extend(f'  - {item}' for item in missing)
    if lines:
        raise DatasetLayoutError('Benchmark files are missing where the configs expect them.\n'
                                 + '\n'.join(lines) + '\nFix: prepare them as described in '
                                 'data/README.md, or leave them out with --datasets.')


def progress(message: str) -> None:
    """A progress line on stdout (main process only), between the runners' own logs."""
    if is_main_process():
        print(message, flush=True)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{seconds:02d}'


def _fmt(value) -> str:
    return '-' if value is None else f'{value:.2f}' if isinstance(value, float) else str(value)


def table_rows(results: dict, published: dict) -> list:
    """``[label, published or None, ours, diff or None]`` per dataset, in the field's order."""
    rows = []
    for dataset, ours in results.items():
        reference = published.get(dataset)
        reference = None if reference is None else float(reference)
        diff = None if reference is None else ours - reference
        rows.append([BENCHMARKS[dataset], reference, ours, diff])
    return rows


def format_table(rows: list) -> str:
    cells = [list(COLUMNS)] + [[label] + [_fmt(v) for v in values] for label, *values in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]

    def line(items):
        return '| ' + ' | '.join(item.ljust(w) if i == 0 else item.rjust(w)
                                 for i, (item, w) in enumerate(zip(items, widths))) + ' |'

    return '\n'.join([line(cells[0]), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
                     + [line(row) for row in cells[1:]])


def markdown(rows: list, args) -> str:
    header = '| ' + ' | '.join(COLUMNS) + ' |\n|---|---:|---:|---:|\n'
    body = ''.join('| ' + ' | '.join([label] + [_fmt(v) for v in values]) + ' |\n'
                   for label, *values in rows)
    note = (f'mIoU (%), CLIP {args.model_name}, mode `{args.mode}`'
            + (', PAMR' if args.pamr else '') + '; published: configs/protocol/published.yaml.\n')
    if args.random_weights:
        note += '\n**Random CLIP weights: a smoke run, every number of ours is meaningless.**\n'
    return f'# Training-free benchmarks: mode {args.mode}\n\n{note}\n{header}{body}'


def write_outputs(rows: list, args) -> tuple:
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.join(args.out_dir, f'eval_all_{args.mode}')
    with open(stem + '.csv', 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for label, *values in rows:
            writer.writerow([label] + ['' if v is None else f'{v:.2f}' for v in values])
    with open(stem + '.md', 'w') as f:
        f.write(markdown(rows, args))
    return stem + '.csv', stem + '.md'


def evaluate(cfg) -> float:
    """mIoU of one benchmark config (tools/test.py's runner)."""
    metrics = test_tool.build_runner(cfg, cfg.launcher).test()
    if 'mIoU' not in metrics:
        raise ValueError(f'The test evaluator reports no mIoU (it gives {sorted(metrics)}).')
    return float(metrics['mIoU'])


def main(argv=None):
    args = parse_args(argv)
    published = load_published().get(args.mode) or {}
    results, start = {}, time.time()
    with exit_on_user_error():
        cfgs = {dataset: dataset_cfg(args, dataset) for dataset in args.datasets}
        preflight(cfgs)
        args.model_name = next(iter(cfgs.values())).model.clip.model_name
        for index, (dataset, cfg) in enumerate(cfgs.items(), 1):
            tag = f'[eval_all] {index}/{len(cfgs)} {dataset}'
            progress(f'{tag}: {osp.basename(config_of(dataset))}, mode {args.mode} ...')
            began = time.time()
            results[dataset] = evaluate(cfg)
            reference = published.get(dataset)
            progress(f'{tag}: mIoU {results[dataset]:.2f} (published '
                     f'{_fmt(None if reference is None else float(reference))}) in '
                     f'{_duration(time.time() - began)}; {_duration(time.time() - start)} elapsed')
    rows = table_rows(results, published)
    if is_main_process():
        csv_path, md_path = write_outputs(rows, args)
        print(f'\nmode {args.mode}' + (' + PAMR' if args.pamr else '') + ', mIoU (%):')
        print(format_table(rows))
        print(f'\nwritten: {csv_path}\n         {md_path}', flush=True)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return results


if __name__ == '__main__':
    main()
