"""The field's eight training-free benchmarks (VOC21, Context60, COCO-Object, VOC20, Context59,
COCO-Stuff171, Cityscapes, ADE20K) for one last-block mode, as tools/eval_all.py runs them.

Two protocols: ``'own'`` runs the method of the mode with its released settings
(configs/{sclip,clearclip,naclip}/), ``'common'`` runs any mode on the shared setting of
configs/protocol/. The published numbers shown beside ours come from the one table of published
numbers, configs/reproduction/published.yaml: under the own protocol the rows of the config that
runs, under the common protocol (for reference only) the method's comparison-table numbers. Each benchmark runs as tools/test.py would
(:mod:`maskclip.engine.test_runner`). :class:`BenchmarkOptions` holds what tools/eval_all.py
parses (checked there, for any caller); :func:`run_benchmarks` is the whole job.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import List, Optional
from mmengine.dist import is_main_process

from maskclip.engine.test_runner import build_test_cfg, build_test_runner, test_options
from maskclip.report import aligned_table, format_duration, format_number, write_csv, write_markdown
from maskclip.reproduction.table import ROOT

PROTOCOL_DIR = osp.join(ROOT, 'configs', 'protocol')
#: benchmark key -> its ``dataset`` in the reproduction table
TABLE_DATASETS = {
    'voc21': 'PASCAL VOC 21',
    'context60': 'PASCAL Context 60',
    'coco-object': 'COCO-Object',
    'voc20': 'PASCAL VOC 20',
    'context59': 'PASCAL Context 59',
    'coco-stuff': 'COCO-Stuff 171',
    'cityscapes': 'Cityscapes',
    'ade20k': 'ADE20K',
}
#: mode -> (paper, table) of the reproduction table holding its eight-benchmark numbers
COMPARISON_TABLES = {
    'maskclip': ('maskclip', 'field'),
    'sclip': ('sclip', 'main'),
    'clearclip': ('clearclip', 'main'),
    'naclip': ('naclip', 'main'),
}
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




@dataclass
class BenchmarkOptions:
    """One eval_all run: a last-block ``mode`` on ``datasets`` under a ``protocol``.

    ``out_dir`` (default work_dirs/eval_all/<mode>) receives the CSV and Markdown tables,
    ``work_dir`` (default: ``out_dir``) one folder of logs per dataset; ``cfg_options`` apply to
    every benchmark config (the mode and the protocol's PAMR win over them)."""
    mode: str
    protocol: str = 'own'
    datasets: List[str] = field(default_factory=lambda: list(BENCHMARKS))
    pamr: bool = False
    out_dir: Optional[str] = None
    work_dir: Optional[str] = None
    cfg_options: Optional[dict] = None
    clip_weights: Optional[str] = None
    random_weights: bool = False
    launcher: str = 'none'

    def __post_init__(self):
        if self.mode not in modes():
            raise ValueError(f"mode '{self.mode}' is unknown; use one of {', '.join(modes())}.")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol '{self.protocol}': use one of {', '.join(PROTOCOLS)}.")
        if self.protocol == 'own' and self.mode not in OWN_METHODS:
            raise ValueError(f"mode '{self.mode}' has no released training-free settings of its "
                             f"own (own protocol: {', '.join(OWN_METHODS)}); run it with "
                             '--protocol common.')
        if self.protocol == 'own' and self.pamr and self.mode == 'clearclip':
            raise ValueError("ClearCLIP's released code has no PAMR; drop --pamr, or use "
                             '--protocol common --pamr.')
        unknown = [name for name in self.datasets if name not in BENCHMARKS]
        if unknown:
            raise ValueError(f"unknown benchmark(s) {', '.join(unknown)}; use "
                             f"{', '.join(BENCHMARKS)}.")
        self.datasets = list(dict.fromkeys(self.datasets))  # keep order, drop repeats
        self.out_dir = self.out_dir or osp.join('work_dirs', 'eval_all', self.mode)
        self.work_dir = self.work_dir or self.out_dir


def run_benchmarks(options: BenchmarkOptions, dry_run: bool = False) -> dict:
    """``{dataset: mIoU}`` of every benchmark of ``options`` (after checking all weights and
    data), printed and written beside the published numbers; ``dry_run`` prints each
    benchmark's config and settings and runs nothing (returns ``{}``)."""
    cfgs = benchmark_cfgs(options)
    if dry_run:
        dry_run_table(options, cfgs)
        return {}
    results, published = evaluate_benchmarks(options, cfgs)
    report_benchmarks(results, published, options)
    return results


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


def comparison_numbers(mode: str) -> dict:
    """``{benchmark: mIoU}`` of ``mode``'s method in its comparison table (the reproduction
    table's rows, or its ``missing`` entries where no config reproduces the number); empty for a
    mode without published eight-benchmark numbers (e.g. baseline)."""
    from maskclip.reproduction.table import load_table
    if mode not in COMPARISON_TABLES:
        return {}
    paper, table_name = COMPARISON_TABLES[mode]
    table = load_table()
    entries = [(row.dataset, row.published) for row in table.rows
               if (row.paper, row.table) == (paper, table_name) and row.metric == 'mIoU']
    entries += [(entry['dataset'], entry['published'].get('mIoU')) for entry in table.missing
                if (entry['paper'], str(entry['table'])) == (paper, table_name)]
    by_dataset = dict(entries)
    return {key: float(by_dataset[name]) for key, name in TABLE_DATASETS.items()
            if by_dataset.get(name) is not None}


def published_of_config(config: str) -> dict:
    """``{'paper': x, 'README': y}`` of the reproduction table's rows that run ``config`` as it
    is (no cfg_options): table 'code' is the authors' README, any other the paper."""
    from maskclip.reproduction.table import load_table
    relative = osp.relpath(config, ROOT)
    numbers = {}
    for row in load_table().rows:
        if row.config == relative and row.run == 'eval' and not row.cfg_options:
            numbers['README' if row.table == 'code' else 'paper'] = row.published
    return numbers


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
    test_args = test_options(dataset_config(args, dataset),
                             work_dir=osp.join(args.work_dir, dataset), cfg_options=options,
                             launcher=args.launcher, clip_weights=args.clip_weights,
                             random_weights=args.random_weights)
    return build_test_cfg(test_args)


def published_numbers(args, dataset: str) -> dict:
    """``{'paper': ..., 'README': ...}`` to show beside ours (see the module docstring)."""
    if args.protocol == 'common':
        number = comparison_numbers(args.mode).get(dataset)
        return {} if number is None else {'paper': number}
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


def dry_run_table(args, cfgs: dict) -> None:
    """Print each benchmark's config and settings (nothing is built or checked)."""
    rows = [[dataset, osp.relpath(dataset_config(args, dataset), ROOT)]
            + [format_number(value) for value in settings(cfg).values()]
            for dataset, cfg in cfgs.items()]
    header = ['dataset', 'config'] + list(settings(next(iter(cfgs.values()))))
    print(f'mode {args.mode}, protocol {args.protocol}' + (' + PAMR' if args.pamr else '')
          + ' (dry run):')
    print(aligned_table(header, rows, left_columns=2))


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


def format_table(rows: list) -> str:
    return aligned_table(COLUMNS, [[label] + [format_number(v) for v in values]
                                   for label, *values in rows])


def protocol_note(args) -> str:
    if args.protocol == 'own':
        return (f'protocol **own**: each benchmark with the released settings of '
                f'{args.mode} (configs/{args.mode}/); published: configs/reproduction/'
                'published.yaml (paper table; README where their released configs differ)')
    return ('protocol **common**: one shared setting for every mode (configs/protocol/); '
            'published: the method\'s comparison-table numbers under its own settings '
            '(configs/reproduction/published.yaml), for reference only')


def title(args) -> str:
    return f'Training-free benchmarks: mode {args.mode}, protocol {args.protocol}'


def note(args) -> str:
    text = (f'mIoU (%), CLIP {args.model_name}, mode `{args.mode}`'
            + (', PAMR' if args.pamr else '') + f'; {protocol_note(args)}.')
    if args.random_weights:
        text += '\n\n**Random CLIP weights: a smoke run, every number of ours is meaningless.**'
    return text


def write_outputs(rows: list, args) -> tuple:
    stem = osp.join(args.out_dir, f'eval_all_{args.mode}_{args.protocol}')
    numbers = [[label] + [None if v is None else f'{v:.2f}' for v in values]
               for label, *values in rows]
    return (write_csv(stem + '.csv', COLUMNS, numbers),
            write_markdown(stem + '.md', title(args), format_table(rows), note(args)))


def evaluate(cfg) -> float:
    """mIoU of one benchmark config (tools/test.py's runner)."""
    metrics = build_test_runner(cfg, cfg.launcher).test()
    if 'mIoU' not in metrics:
        raise ValueError(f'The test evaluator reports no mIoU (it gives {sorted(metrics)}).')
    return float(metrics['mIoU'])




def benchmark_cfgs(args) -> dict:
    """``{dataset: config}`` of every benchmark of ``args.datasets``, built as tools/test.py."""
    return {dataset: dataset_cfg(args, dataset) for dataset in args.datasets}


def evaluate_benchmarks(args, cfgs: dict) -> tuple:
    """mIoU of every benchmark, one after the other, after checking all weights and data
    first; returns ``(results, published)`` (``{dataset: mIoU}``, ``{dataset: numbers}``)."""
    published = {dataset: published_numbers(args, dataset) for dataset in cfgs}
    preflight(cfgs)
    args.model_name = next(iter(cfgs.values())).model.clip.model_name
    results, start = {}, time.time()
    for index, (dataset, cfg) in enumerate(cfgs.items(), 1):
        tag = f'[eval_all] {index}/{len(cfgs)} {dataset}'
        progress(f'{tag}: {osp.basename(dataset_config(args, dataset))}, mode {args.mode}, '
                 f'protocol {args.protocol} ...')
        began = time.time()
        results[dataset] = evaluate(cfg)
        reference = published[dataset].get('README', published[dataset].get('paper'))
        took, elapsed = time.time() - began, time.time() - start
        progress(f'{tag}: mIoU {results[dataset]:.2f} (published {format_number(reference)}) in '
                 f'{format_duration(took)}; {format_duration(elapsed)} elapsed')
    return results, published


def report_benchmarks(results: dict, published: dict, args) -> list:
    """Print the table and write the CSV and Markdown (main process); returns the rows."""
    rows = table_rows(results, published)
    if is_main_process():
        csv_path, md_path = write_outputs(rows, args)
        print(f'\nmode {args.mode}, protocol {args.protocol}' + (' + PAMR' if args.pamr else '')
              + ', mIoU (%):')
        print(format_table(rows))
        print(f'\n{protocol_note(args)}\nwritten: {csv_path}\n         {md_path}', flush=True)
    return rows
