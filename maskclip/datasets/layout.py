"""Check that a dataset is where its config says, before a long run starts.

mmseg only notices a missing or misplaced dataset deep inside dataset construction (an
``AssertionError`` without a path, or an empty dataset). :func:`check_dataset_layout` looks at the
config alone and names every missing path. It uses only ``os`` so that it is cheap to call.
"""
import copy
import os
import os.path as osp

FIX_HINT = ('prepare the dataset as described in data/README.md (or point data_root at it with '
            '--cfg-options test_dataloader.dataset.data_root=...)')


class DatasetLayoutError(FileNotFoundError):
    """A dataset config points at paths that do not exist (or hold no files)."""


def _is_remote(path: str) -> bool:
    return '://' in path


def _join(data_root, path: str) -> str:
    """Join like mmengine's ``BaseDataset``: absolute paths are used as they are."""
    if data_root and not osp.isabs(path):
        return osp.join(data_root, path)
    return path


def _has_file(directory: str) -> bool:
    """Whether ``directory`` holds at least one file, at any depth (Cityscapes nests by city)."""
    for _, _, files in os.walk(directory, followlinks=True):
        if files:
            return True
    return False


def iter_dataset_cfgs(cfg):
    """The leaf dataset configs of ``cfg``: wrappers (RepeatDataset, ClassBalancedDataset,
    ConcatDataset, ...) are looked through to the datasets that they nest."""
    if not isinstance(cfg, dict):
        return
    wrapped = []
    if isinstance(cfg.get('dataset'), dict):
        wrapped.append(cfg['dataset'])
    if isinstance(cfg.get('datasets'), (list, tuple)):
        wrapped.extend(cfg['datasets'])
    if not wrapped:
        yield cfg
    for sub in wrapped:
        yield from iter_dataset_cfgs(sub)


def dataset_type_name(cfg: dict) -> str:
    dataset_type = cfg.get('type', '<unknown type>')
    if not isinstance(dataset_type, str):
        dataset_type = getattr(dataset_type, '__name__', repr(dataset_type))
    return dataset_type


def _missing_paths(cfg: dict) -> list:
    missing = []
    data_root = cfg.get('data_root') or ''
    if data_root and not _is_remote(data_root) and not osp.isdir(data_root):
        missing.append(f'data_root {data_root!r} does not exist')

    prefix = cfg.get('data_prefix') or {}
    for key in ('img_path', 'seg_map_path'):
        rel = prefix.get(key) if isinstance(prefix, dict) else None
        if rel is None:
            continue
        path = _join(data_root, rel)
        if _is_remote(path):
            continue
        if not osp.isdir(path):
            missing.append(f'{key} {path!r} does not exist')
        elif not _has_file(path):
            missing.append(f'{key} {path!r} holds no files')

    ann_file = cfg.get('ann_file') or ''
    if ann_file:
        path = _join(data_root, ann_file)
        if not _is_remote(path) and not osp.isfile(path):
            missing.append(f'ann_file {path!r} does not exist')
    return missing


def dataset_layout_problems(dataset_cfg: dict) -> list:
    """``[(dataset type, [missing path sentence, ...]), ...]`` for the datasets of
    ``dataset_cfg`` that are not complete; empty when everything is there. The same checks as
    :func:`check_dataset_layout`, returned instead of raised (for reports such as
    ``tools/check_dataset.py``)."""
    return [(dataset_type_name(leaf), missing) for leaf in iter_dataset_cfgs(dataset_cfg)
            if (missing := _missing_paths(leaf))]


def check_dataset_layout(dataset_cfg: dict) -> None:
    """Raise :class:`DatasetLayoutError` if the dataset described by ``dataset_cfg`` is not there.

    ``dataset_cfg`` is an mmseg dataset config (``type``, ``data_root``, ``data_prefix=dict(
    img_path=..., seg_map_path=...)``, optional ``ann_file``); wrappers with ``dataset=`` or
    ``datasets=`` are checked recursively. Checked: ``data_root`` exists; the image and
    segmentation-map directories exist and hold at least one file; a non-empty ``ann_file``
    exists. Relative paths are joined with ``data_root``; absolute ones are used as they are;
    remote URIs (``s3://...``) are not checked.
    """
    problems = dataset_layout_problems(dataset_cfg)
    if not problems:
        return
    lines = []
    for dataset_type, missing in problems:
        lines.append(f'{dataset_type}:')
        lines.extend(f'  - {item}' for item in missing)
    raise DatasetLayoutError('Dataset files are missing where the config expects them.\n' +
                             '\n'.join(lines) + f'\nFix: {FIX_HINT}.')


# Wrappers holding one dataset config under ``dataset`` (ConcatDataset holds ``datasets``).
SINGLE_WRAPPERS = ('RepeatDataset', 'ClassBalancedDataset', 'MultiImageMixDataset')


def split_dataset_cfg(cfg, split: str, pipeline: list) -> dict:
    """A copy of ``cfg.<split>_dataloader.dataset`` whose datasets all run ``pipeline``.

    For tools that read a split with their own pipeline (pseudo-label export, class-existence
    caching); wrappers are unwrapped, concatenations keep every part.
    """
    loader = cfg.get(f'{split}_dataloader')
    if not loader or not loader.get('dataset'):
        raise ValueError(f'The config has no {split}_dataloader.dataset; choose another --split '
                         '(train, val or test).')

    def with_pipeline(dataset: dict) -> dict:
        if dataset.get('type') in SINGLE_WRAPPERS and isinstance(dataset.get('dataset'), dict):
            return with_pipeline(dataset['dataset'])
        if isinstance(dataset.get('datasets'), (list, tuple)):
            dataset['datasets'] = [with_pipeline(d) for d in dataset['datasets']]
            return dataset
        dataset['pipeline'] = copy.deepcopy(pipeline)
        return dataset

    return with_pipeline(copy.deepcopy(loader['dataset']))


def check_image_layout(dataset_cfg: dict) -> None:
    """:func:`check_dataset_layout` for tools that read images only: a missing annotation
    folder is not an error (those tools do not read labels, or produce them)."""

    def without_missing_labels(dataset: dict) -> dict:
        if isinstance(dataset.get('datasets'), (list, tuple)):
            dataset['datasets'] = [without_missing_labels(d) for d in dataset['datasets']]
            return dataset
        prefix = dataset.get('data_prefix')
        if isinstance(prefix, dict) and prefix.get('seg_map_path') is not None:
            path = _join(dataset.get('data_root') or '', prefix['seg_map_path'])
            if not osp.isdir(path):
                prefix.pop('seg_map_path')
        return dataset

    check_dataset_layout(without_missing_labels(copy.deepcopy(dataset_cfg)))
