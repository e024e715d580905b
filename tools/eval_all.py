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
(configs/protocol/published.yaml), obtained under its own settings, for reference.
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

from maskclip.engine.test_runner import build_test_cfg, build_test_runner
from maskclip.reproduction import format_duration
from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,
                            exit_on_user_error)

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
PROTOCOLS = ('own', 'common')
#: the modes whose method has released settings of its own: configs/<mode>/
OWN_METHODS = ('sclip', 'clearclip', 'naclip')
PAMR_CFG = dict(iterations=10, dilations=(1, 2, 4, 8, 12, 24))
COLUMNS = ('dataset', 'paper', 'README', 'ours', 'diff')




def modes() -> tuple:
    """The encoder's last-block modes, read when the tool runs (new modes appear by themselves)."""
    from maskclip.models.backbones.base import MODES
    return tuple(MODES)


def config_of(dataset: str, protocol: str = 'common', mode: str = None,
              pamr: bool = False) -> str:
    """The benchmark config: configs/protocol/training-free_vit-b16_<dataset>-*.py (common), or
    configs/<mode>/<mode>[-pamr]_vit-b16_<dataset>-*.py (own; -pamr for NACLIP's PAMR)."""
    if protocol == 'common':
        folder, prefix = PROTOCOL_DIR, 'training-free'
    else:
        folder = osp.join(ROOT, 'configs', mode)
        prefix = f'{mode}-pamr' if pamr and mode == 'naclip' else mode
    found = sorted(glob.glob(osp.join(folder, f'{prefix}_vit-b16_{dataset}-*.py')))
    if len(found) != 1:
        raise ValueError(f'Expected one config for {dataset!r} in {folder}, '
                         f'found {[osp.basename(p) for p in found]}.')
    return found[0]


def load_published(path: str = PUBLISHED) -> dict:
    """``{mode: {dataset: mIoU}}`` from published.yaml (each paper's own settings)."""
    with open(path) as f:
        return yaml.safe_load(f) or {}


def published_of_config(config: str) -> dict:
    """``{'paper': x, 'README': y}`` of the reproduction table's rows that run ``config`` as it
    is (no cfg_options): table 'code' is the authors' README, any other the paper."""
    from maskclip.reproduction.table import load_table
    relative = osp.relpath(config, ROOT)
    numbers = {}
    for row in load_table(osp.join(ROOT, 'configs', 'reproduction', 'published.yaml')).rows:
        if row.config == relative and row.run == 'eval' and not row.cfg_options:
            numbers['README' if row.table == 'code' else 'paper'] = row.published
    return numbers


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
    if args.protocol == 'own' and args.mode not in OWN_METHODS:
        parser.error(f"mode '{args.mode}' has no released training-free settings of its own "
                     f"(own protocol: {', '.join(OWN_METHODS)}); run it with --protocol common.")
    if args.protocol == 'own' and args.pamr and args.mode == 'clearclip':
        parser.error("ClearCLIP's released code has no PAMR; drop --pamr, or use --protocol "
                     'common --pamr.')
    args.datasets = list(dict.fromkeys(args.datasets))  # keep order, drop repeats
    args.out_dir = args.out_dir or osp.join('work_dirs', 'eval_all', args.mode)
    args.work_dir = args.work_dir or args.out_dir
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def dataset_config(args, dataset: str) -> str:
    return config_of(dataset, args.protocol, args.mode, args.pamr)


def dataset_cfg(args, dataset: str):
    """The config of one benchmark as tools/test.py builds it, with the protocol's settings."""
    options = dict(args.cfg_options or {})
    if args.protocol == 'common':
        options['model.backbone.mode'] = args.mode
        if args.pamr:
            options['model.pamr'] = dict(PAMR_CFG)
    elif args.pamr and args.mode == 'sclip':  # their PAMR when on: dilations (8, 16) as set
        options['model.pamr.iterations'] = 10
    test_args = SimpleNamespace(
        config=dataset_config(args, dataset), checkpoint=None,
        work_dir=osp.join(args.work_dir, dataset), cfg_options=options, launcher=args.launcher,
        clip_weights=args.clip_weights, random_weights=args.random_weights, show=False,
        show_dir=None, tta=False, out=None)
    return build_test_cfg(test_args)


def published_numbers(args, dataset: str) -> dict:
    """``{'paper': ..., 'README': ...}`` to show beside ours (see the module docstring)."""
    if args.protocol == 'common':
        number = (load_published().get(args.mode) or {}).get(dataset)
        return {} if number is None else {'paper': float(number)}
    if args.pamr and args.mode == 'sclip':
        return {}  # SCLIP published no numbers with PAMR
    return published_of_config(dataset_config(args, dataset))


def settings(cfg) -> dict:
    """What a benchmark config sets, as the dry run lists it."""
    model = cfg.model
    head, test = model.decode_head, model.get('test_cfg') or {}
    resize = next((t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize'), {})
    pamr = model.get('pamr') or {}
    return {
        'mode': model.backbone.mode,
        'short side': min(resize.get('scale', (0, 0))),
        'windows': ('whole' if test.get('mode', 'whole') == 'whole' else
                    f"{test['crop_size'][0]}/{test['stride'][0]}"),
        'logit scale': head.get('logit_scale', 1.0),
        'softmax over': head.get('softmax_over', 'classes'),
        'bg threshold': head.get('bg_threshold'),
        'area threshold': head.get('area_threshold'),
        'classes': head.class_names,
        'PAMR': (f"{pamr['iterations']}x{tuple(pamr.get('dilations', ()))}"
                 if pamr.get('iterations', 0) else 'off'),
        'precision': model.get('precision', 'fp32'),
    }


def dry_run(args, cfgs: dict) -> None:
    """Print each benchmark's config and settings (nothing is built or checked)."""
    rows = [[dataset, osp.relpath(dataset_config(args, dataset), ROOT)]
            + [_fmt(value) for value in settings(cfg).values()] for dataset, cfg in cfgs.items()]
    header = ['dataset', 'config'] + list(settings(next(iter(cfgs.values()))))
    print(f'mode {args.mode}, protocol {args.protocol}' + (' + PAMR' if args.pamr else '')
          + ' (dry run):')
    print(aligned_table(header, rows))


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


def _fmt(value) -> str:
    return '-' if value is None else f'{value:.2f}' if isinstance(value, float) else str(value)


def table_rows(results: dict, published: dict) -> list:
    """``[label, paper, README, ours, diff]`` per dataset, in the field's order; ``published``
    maps a dataset to ``{'paper': ..., 'README': ...}``; diff is against README, else paper."""
    rows = []
    for dataset, ours in results.items():
        numbers = published.get(dataset) or {}
        paper, readme = numbers.get('paper'), numbers.get('README')
        reference = readme if readme is not None else paper
        diff = None if reference is None else ours - reference
        rows.append([BENCHMARKS[dataset], paper, readme, ours, diff])
    return rows


def aligned_table(header: list, rows: list) -> str:
    cells = [list(header)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]

    def line(items):
        return '| ' + ' | '.join(item.ljust(w) if i == 0 else item.rjust(w)
                                 for i, (item, w) in enumerate(zip(items, widths))) + ' |'

    return '\n'.join([line(cells[0]), '|' + '|'.join('-' * (w + 2) for w in widths) + '|']
                     + [line(row) for row in cells[1:]])


def format_table(rows: list) -> str:
    return aligned_table(COLUMNS, [[label] + [_fmt(v) for v in values]
                                   for label, *values in rows])


def protocol_note(args) -> str:
    if args.protocol == 'own':
        return (f'protocol **own**: each benchmark with the released settings of '
                f'{args.mode} (configs/{args.mode}/); published: configs/reproduction/'
                'published.yaml (paper table; README where their released configs differ)')
    return ('protocol **common**: one shared setting for every mode (configs/protocol/); '
            'published: the paper\'s numbers under its own settings (configs/protocol/'
            'published.yaml), for reference only')


def markdown(rows: list, args) -> str:
    header = '| ' + ' | '.join(COLUMNS) + ' |\n|---|---:|---:|---:|---:|\n'
    body = ''.join('| ' + ' | '.join([label] + [_fmt(v) for v in values]) + ' |\n'
                   for label, *values in rows)
    note = (f'mIoU (%), CLIP {args.model_name}, mode `{args.mode}`'
            + (', PAMR' if args.pamr else '') + f'; {protocol_note(args)}.\n')
    if args.random_weights:
        note += '\n**Random CLIP weights: a smoke run, every number of ours is meaningless.**\n'
    return (f'# Training-free benchmarks: mode {args.mode}, protocol {args.protocol}\n\n{note}\n'
            f'{header}{body}')


def write_outputs(rows: list, args) -> tuple:
    os.makedirs(args.out_dir, exist_ok=True)
    stem = osp.join(args.out_dir, f'eval_all_{args.mode}_{args.protocol}')
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
    metrics = build_test_runner(cfg, cfg.launcher).test()
    if 'mIoU' not in metrics:
        raise ValueError(f'The test evaluator reports no mIoU (it gives {sorted(metrics)}).')
    return float(metrics['mIoU'])


def main(argv=None):
    args = parse_args(argv)
    results, start = {}, time.time()
    with exit_on_user_error():
        cfgs = {dataset: dataset_cfg(args, dataset) for dataset in args.datasets}
        if args.dry_run:
            dry_run(args, cfgs)
            return {}
        published = {dataset: published_numbers(args, dataset) for dataset in args.datasets}
        preflight(cfgs)
        args.model_name = next(iter(cfgs.values())).model.clip.model_name
        for index, (dataset, cfg) in enumerate(cfgs.items(), 1):
            tag = f'[eval_all] {index}/{len(cfgs)} {dataset}'
            progress(f'{tag}: {osp.basename(dataset_config(args, dataset))}, mode {args.mode}, '
                     f'protocol {args.protocol} ...')
            began = time.time()
            results[dataset] = evaluate(cfg)
            reference = published[dataset].get('README', published[dataset].get('paper'))
            took, elapsed = time.time() - began, time.time() - start
            progress(f'{tag}: mIoU {results[dataset]:.2f} (published {_fmt(reference)}) in '
                     f'{format_duration(took)}; {format_duration(elapsed)} elapsed')
    rows = table_rows(results, published)
    if is_main_process():
        csv_path, md_path = write_outputs(rows, args)
        print(f'\nmode {args.mode}, protocol {args.protocol}' + (' + PAMR' if args.pamr else '')
              + ', mIoU (%):')
        print(format_table(rows))
        print(f'\n{protocol_note(args)}\nwritten: {csv_path}\n         {md_path}', flush=True)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return results


if __name__ == '__main__':
    main()
