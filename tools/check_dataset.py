"""Check that a config's dataset is complete and its labels are in range, before a long run.

    python tools/check_dataset.py CONFIG [--split train|val|test|all] [--max-labels N]
        [--cfg-options k=v ...]

For every dataset of the chosen dataloaders (wrappers such as ConcatDataset are looked through)
it checks, and reports in plain words:

1. the data root, image and label folders and the split (``ann_file``) file exist
   (``maskclip.datasets.layout``, the check that tools/test.py and train.py also run);
2. every image the dataset would load (the split-file entries, or the images found in the
   image folder) exists and has its label file; missing ones are counted and the first few named;
3. label values of up to N label PNGs (spread over the split) lie in 0..num_classes-1 or 255
   once read as mmseg's ``LoadAnnotations`` reads them (``reduce_zero_label``, custom-class
   ``label_map``), and each label has its image's size.

The image/label lists come from the dataset class itself (mmseg's ``load_data_list``), so the
suffixes and split-file semantics are exactly the ones training and testing will use.
Exit status: 0 if everything is in order, 1 if a problem was found.
"""
import argparse
import os.path as osp
import sys

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from PIL import Image

import maskclip.datasets  # noqa: F401  (registers the repo's datasets)
from maskclip.datasets.layout import (FIX_HINT, dataset_layout_problems,
                                      dataset_type_name, iter_dataset_cfgs)

SPLITS = ('train', 'val', 'test')
SHOW = 3  # files named per problem


class Report:
    """Checked items of one dataset: ``(ok, sentence)`` lines."""

    def __init__(self, title: str):
        self.title, self.lines = title, []

    def ok(self, text: str) -> None:
        self.lines.append((True, text))

    def problem(self, text: str) -> None:
        self.lines.append((False, text))

    @property
    def problems(self) -> int:
        return sum(not ok for ok, _ in self.lines)

    def __str__(self) -> str:
        return '\n'.join([self.title] + [f'  {"ok     " if ok else "PROBLEM"}  {text}'
                                         for ok, text in self.lines])


def _examples(paths: list) -> str:
    return ', '.join(paths[:SHOW]) + (', ...' if len(paths) > SHOW else '')


def build_dataset(dataset_cfg: dict):
    """The mmseg dataset without loading its file list or pipeline."""
    from mmseg.registry import DATASETS
    return DATASETS.build(dict(dataset_cfg, pipeline=[], lazy_init=True))


def load_label(path: str, dataset) -> tuple:
    """(the file's values, the label as ``LoadAnnotations`` makes it from them). Values that
    do not fit in uint8 (mmseg would wrap them around) are kept as they are."""
    with Image.open(path) as image:
        raw = np.array(image)
    if raw.ndim != 2 or raw.max(initial=0) > 255:
        return raw, raw
    label = raw.astype(np.uint8)
    if dataset.reduce_zero_label:
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    if dataset.label_map:
        original = label.copy()
        for old, new in dataset.label_map.items():
            label[original == old] = new
    return raw, label


def check_pairs(data_list: list, report: Report) -> list:
    """Images and labels that exist; reports the missing ones. Returns the complete pairs."""
    missing_img = [d['img_path'] for d in data_list if not osp.isfile(d['img_path'])]
    if missing_img:
        report.problem(f'{len(missing_img)} of {len(data_list)} images are missing, e.g. '
                       f'{_examples(missing_img)}')
    if not data_list or 'seg_map_path' not in data_list[0]:
        return []
    missing = [d['seg_map_path'] for d in data_list if not osp.isfile(d['seg_map_path'])]
    if missing:
        report.problem(f'{len(missing)} of {len(data_list)} label files are missing, e.g. '
                       f'{_examples(missing)}')
    else:
        report.ok(f'all {len(data_list)} label files exist')
    return [d for d in data_list if osp.isfile(d['img_path']) and osp.isfile(d['seg_map_path'])]


def check_labels(pairs: list, dataset, max_labels: int, report: Report) -> None:
    """Value range and size of up to ``max_labels`` label files, spread over ``pairs``."""
    if not pairs:
        return
    if 0 < max_labels < len(pairs):
        pairs = [pairs[i] for i in np.linspace(0, len(pairs) - 1, max_labels).astype(int)]
    num_classes = len(dataset.metainfo['classes'])
    allowed = f'0..{num_classes - 1} or 255'
    if dataset.reduce_zero_label:
        allowed += ' after reduce_zero_label (0 -> 255, v -> v-1)'
    bad_values, bad_shape = [], []
    for pair in pairs:
        raw, label = load_label(pair['seg_map_path'], dataset)
        if label.ndim != 2:
            bad_shape.append(f'{pair["seg_map_path"]} has {label.shape[-1]} channels, not one')
            continue
        wrong = (label >= num_classes) & (label != 255)
        if wrong.any():
            bad_values.append(f'{pair["seg_map_path"]} has values '
                              f'{np.unique(raw[wrong])[:8].tolist()}')
        with Image.open(pair['img_path']) as image:
            if image.size != (label.shape[1], label.shape[0]):
                bad_shape.append(f'{pair["seg_map_path"]} is {label.shape[1]}x'
                                 f'{label.shape[0]}, its image {image.size[0]}x{image.size[1]}')
    if bad_values:
        report.problem(f'label values out of range in {len(bad_values)} of {len(pairs)} '
                       f'checked files (allowed: {allowed}): ' + '; '.join(bad_values[:SHOW]))
    else:
        report.ok(f'label values of {len(pairs)} checked files lie in {allowed}')
    if bad_shape:
        report.problem(f'{len(bad_shape)} label files do not fit their image: '
                       + '; '.join(bad_shape[:SHOW]))


def check_one(dataset_cfg: dict, title: str, max_labels: int) -> Report:
    """Check one (leaf) dataset config."""
    report = Report(f'{title}: {dataset_type_name(dataset_cfg)} at '
                    f'{dataset_cfg.get("data_root") or "."}')
    layout = dataset_layout_problems(dataset_cfg)
    for _, missing in layout:
        for item in missing:
            report.problem(item)
    if layout:
        return report
    report.ok('data root, image and label folders' +
              (' and split file exist' if dataset_cfg.get('ann_file') else ' exist'))
    try:
        dataset = build_dataset(dataset_cfg)
        data_list = dataset.load_data_list()
    except Exception as error:  # mmseg's own asserts and parse errors, reported as found
        report.problem(f'mmseg cannot read the dataset: {type(error).__name__}: {error}')
        return report
    if not data_list:
        where = dataset.ann_file or dataset.data_prefix.get('img_path')
        report.problem(f'no images listed: {where} yields nothing '
                       f'(image suffix {dataset.img_suffix!r})')
        return report
    if dataset.ann_file:
        report.ok(f'split file {dataset.ann_file} lists {len(data_list)} images')
    else:
        report.ok(f'{len(data_list)} images found in {dataset.data_prefix.get("img_path")}')
    check_labels(check_pairs(data_list, report), dataset, max_labels, report)
    return report


def split_datasets(cfg, split: str) -> list:
    """``[(title, leaf dataset cfg)]`` of the chosen split(s); a split identical to an earlier
    one (test = val in most configs) is checked once."""
    chosen, seen = (SPLITS if split == 'all' else (split,)), []
    for name in chosen:
        loader = cfg.get(f'{name}_dataloader')
        if not loader or not loader.get('dataset'):
            if split != 'all':
                raise SystemExit(f'The config has no {name}_dataloader.dataset to check.')
            continue
        dataset = loader['dataset'].to_dict() if hasattr(loader['dataset'], 'to_dict') \
            else dict(loader['dataset'])
        same = next((i for i, (_, d) in enumerate(seen) if d == dataset), None)
        if same is not None:
            seen[same] = (f'{seen[same][0]}/{name}', dataset)
        else:
            seen.append((name, dataset))
    leaves = []
    for title, dataset in seen:
        subs = list(iter_dataset_cfgs(dataset))
        leaves.extend((title if len(subs) == 1 else f'{title} [{i}]', sub)
                      for i, sub in enumerate(subs))
    return leaves


def load_cfg(args):
    """The config as tools/test.py sees it: file + ``--cfg-options`` + custom imports."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope') or 'mmseg')
    return cfg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Check a config's dataset before a run.")
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', choices=SPLITS + ('all',), default='all',
                        help='which dataloader(s) to check (default: all)')
    parser.add_argument('--max-labels', type=int, default=100, metavar='N',
                        help='label files whose values are read, spread over each split '
                        '(default 100; 0 = all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'test_dataloader.dataset.data_root=/datasets/VOC2012')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_cfg(args)
    datasets = split_datasets(cfg, args.split)
    if not datasets:
        print(f'{args.config} has no train/val/test dataloader with a dataset to check.')
        return 1
    reports = [check_one(d, title, args.max_labels) for title, d in datasets]
    print(f'Dataset check of {args.config}\n')
    print('\n\n'.join(map(str, reports)))
    problems = sum(r.problems for r in reports)
    if problems:
        print(f'\nResult: {problems} problem(s) found. Fix: {FIX_HINT}.')
        return 1
    print('\nResult: OK, the data is complete.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
