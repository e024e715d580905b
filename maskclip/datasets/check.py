"""A config's dataset checked before a long run, in plain words: folders and split file
(:mod:`.layout`), every image with its label, label values in range and label sizes equal to
their images'; tools/check_dataset.py is its command line (what it checks is explained there).
"""
from __future__ import annotations

import os.path as osp

import numpy as np
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from .layout import dataset_layout_problems, dataset_type_name, iter_dataset_cfgs

SPLITS = ('train', 'val', 'test')
SHOW = 3  # files named per problem
#: the shortest image side the models take: one patch of a ViT-B/16 (smaller images fail in the
#: encoder or in mmseg's resize)
MIN_SIDE = 16


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


def check_images(data_list: list, report: Report) -> set:
    """Decode every existing image (a truncated or corrupt file stops an evaluation hours in)
    and flag images with a side under :data:`MIN_SIDE` pixels. Returns the undecodable paths."""
    broken, small, checked, reasons = [], [], 0, {}
    for item in data_list:
        path = item['img_path']
        if not osp.isfile(path):
            continue  # reported by check_pairs
        checked += 1
        try:
            with Image.open(path) as image:
                image.load()
                width, height = image.size
        except Exception as error:  # noqa: BLE001 - any decoder error means the same here
            broken.append(path)
            reasons[path] = f'{type(error).__name__}: {error}'
            continue
        if min(width, height) < MIN_SIDE:
            small.append(f'{path} is {width}x{height}')
    if broken:
        report.problem(f'{len(broken)} of {checked} images cannot be decoded (truncated or '
                       f'corrupt; download them again): '
                       + '; '.join(f'{p} ({reasons[p]})' for p in broken[:SHOW]))
    if small:
        report.problem(f'{len(small)} images have a side under {MIN_SIDE} pixels, smaller than '
                       f'one patch (remove them from the split): ' + '; '.join(small[:SHOW]))
    if checked and not broken and not small:
        report.ok(f'all {checked} images decode and are at least {MIN_SIDE} pixels a side')
    return set(broken)


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
    bad_values, bad_shape, bad_images = [], [], []
    for pair in pairs:
        raw, label = load_label(pair['seg_map_path'], dataset)
        if label.ndim != 2:
            bad_shape.append(f'{pair["seg_map_path"]} has {label.shape[-1]} channels, not one')
            continue
        wrong = (label >= num_classes) & (label != 255)
        if wrong.any():
            bad_values.append(f'{pair["seg_map_path"]} has values '
                              f'{np.unique(raw[wrong])[:8].tolist()}')
        try:
            with Image.open(pair['img_path']) as image:
                size = image.size
        except Exception as error:  # noqa: BLE001 - reported with the file
            bad_images.append(f'{pair["img_path"]} ({type(error).__name__})')
            continue
        if size != (label.shape[1], label.shape[0]):
            bad_shape.append(f'{pair["seg_map_path"]} is {label.shape[1]}x'
                             f'{label.shape[0]}, its image {size[0]}x{size[1]}')
    if bad_values:
        report.problem(f'label values out of range in {len(bad_values)} of {len(pairs)} '
                       f'checked files (allowed: {allowed}): ' + '; '.join(bad_values[:SHOW]))
    else:
        report.ok(f'label values of {len(pairs)} checked files lie in {allowed}')
    if bad_shape:
        report.problem(f'{len(bad_shape)} label files do not fit their image: '
                       + '; '.join(bad_shape[:SHOW]))
    if bad_images:
        report.problem(f'{len(bad_images)} images cannot be read: ' + '; '.join(bad_images[:SHOW]))


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
    pairs = check_pairs(data_list, report)
    broken = check_images(data_list, report)
    check_labels([p for p in pairs if p['img_path'] not in broken], dataset, max_labels, report)
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


def load_checked_cfg(config: str, cfg_options=None):
    """The config as tools/test.py sees it: file + ``--cfg-options`` + custom imports."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    init_default_scope(cfg.get('default_scope') or 'mmseg')
    return cfg


def check_dataset(config: str, split: str = 'all', max_labels: int = 100,
                  cfg_options: dict = None) -> int:
    """Check the datasets of ``config``'s ``split`` dataloaders (``'all'``: every one), print
    the report in plain words and return the exit status: 0 complete, 1 a problem found.
    ``max_labels`` label files are read per split (0: all)."""
    from .layout import FIX_HINT
    if split not in SPLITS + ('all', ):
        raise ValueError(f"split={split!r}: use one of {', '.join(SPLITS)} or 'all'.")
    cfg = load_checked_cfg(config, cfg_options)
    datasets = split_datasets(cfg, split)
    if not datasets:
        print(f'{config} has no train/val/test dataloader with a dataset to check.')
        return 1
    reports = [check_one(dataset, title, max_labels) for title, dataset in datasets]
    print(f'Dataset check of {config}\n')
    print('\n\n'.join(map(str, reports)))
    problems = sum(report.problems for report in reports)
    if problems:
        print(f'\nResult: {problems} problem(s) found. Fix: {FIX_HINT}.')
        return 1
    print('\nResult: OK, the data is complete.')
    return 0


def check_test_data(dataset_cfg: dict, count: int = 20) -> None:
    """Before an evaluation, from one listing of each dataset of ``dataset_cfg`` (as mmseg's
    ``load_data_list`` reads it): refuse a split that lists no image (the run would report
    metrics of nothing), then read ``count`` label files spread over it and refuse values
    outside the dataset's classes or labels of another size than their image (mmseg's IoU
    metric would silently drop such pixels from the ground truth but not from the predictions,
    a lower mIoU, or fail at the first wrong size)."""
    from mmengine.registry import DefaultScope

    from .layout import DatasetLayoutError
    empty, problems = [], []
    for leaf in iter_dataset_cfgs(dataset_cfg):
        if '://' in str(leaf.get('data_root') or ''):
            continue
        with DefaultScope.overwrite_default_scope('mmseg'):
            dataset = build_dataset(leaf)
        data_list = dataset.load_data_list()
        if not data_list:
            source = (f'the split file {dataset.ann_file}' if dataset.ann_file else
                      f"{dataset.data_prefix.get('img_path')} (image suffix "
                      f'{dataset.img_suffix!r})')
            empty.append(f'{dataset_type_name(leaf)}: {source} lists no images')
            continue
        pairs = [d for d in data_list if osp.isfile(d['img_path'])
                 and osp.isfile(d.get('seg_map_path') or '')]
        report = Report(dataset_type_name(leaf))
        check_labels(pairs, dataset, count, report)
        problems += [text for ok, text in report.lines if not ok]
    if empty:
        raise DatasetLayoutError('The split holds no images: ' + '; '.join(empty) + '. Fix the '
                                 'split file or the image suffix (python tools/check_dataset.py '
                                 'CONFIG shows what the config sees).')
    if problems:
        raise DatasetLayoutError('The labels do not fit the dataset: ' + ' | '.join(problems)
                                 + '. Fix the label files (python tools/check_dataset.py CONFIG '
                                 'checks them all), or the dataset type / classes of the config.')
