"""The labels a model (or a MaskCLIP+ teacher, through the code that makes its training labels)
gives to every image of a dataset split, written as palette PNGs in mmseg's layout;
:func:`export_pseudo_labels` is the whole job; tools/export_pseudo_labels.py is its command line
(the options are explained there). ``args`` of the steps holds the same options: ``config, out,
checkpoint, source, split, limit, cfg_options, clip_weights, random_weights``.
"""
from __future__ import annotations

import copy
import os
import os.path as osp
import sys
from types import SimpleNamespace
from typing import Optional

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from PIL import Image

from maskclip.datasets.layout import check_image_layout, split_dataset_cfg
from maskclip.utils import apply_clip_weight_args, check_clip_weights
from maskclip.utils.runtime import adapt_cfg_to_machine
from maskclip.visualization import palette as default_palette

IGNORE = 255
#: Dataset wrappers whose inner dataset is labelled once (repetition / resampling is dropped).
#: Pipeline steps that read ground truth: dropped, the labels are what we produce.
ANNOTATION_LOADERS = ('LoadAnnotations', 'LoadDepthAnnotation', 'LoadBiomedicalAnnotation')



def build_export_cfg(args):
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_clip_weight_args(cfg, args)
    adapt_cfg_to_machine(cfg)  # no CUDA: SyncBN -> BN
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    return cfg


def label_pipeline(cfg, split: str) -> list:
    """The config's test pipeline (else the split's own) without annotation loading."""
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline')
    if pipeline is None:
        pipeline = cfg[f'{split}_dataloader'].dataset.get('pipeline')
    if not pipeline:
        raise ValueError('The config has no test_pipeline to load and resize the images with.')
    steps = [copy.deepcopy(step) for step in pipeline if step.get('type') not in ANNOTATION_LOADERS]
    if any(step.get('type') in ('TestTimeAug', 'MultiScaleFlipAug') for step in steps):
        raise ValueError('The test pipeline is a test-time augmentation pipeline; export labels '
                         'with a single-scale config.')
    return steps


def leaf_datasets(dataset):
    for sub in getattr(dataset, 'datasets', None) or [dataset]:
        yield from (leaf_datasets(sub) if hasattr(sub, 'datasets') else [sub])


def output_name(img_path: str, dataset) -> str:
    """``<image path relative to the image dir, image suffix stripped>.png``."""
    img_dir = (getattr(dataset, 'data_prefix', None) or {}).get('img_path') or ''
    rel = osp.relpath(img_path, img_dir) if img_dir else osp.basename(img_path)
    if rel.startswith('..'):
        rel = osp.basename(img_path)
    suffix = getattr(dataset, 'img_suffix', None)
    stem = rel[:-len(suffix)] if suffix and rel.endswith(suffix) else osp.splitext(rel)[0]
    return stem + '.png'


def choose_palette(dataset, num_classes: int) -> np.ndarray:
    """The dataset's declared METAINFO palette if it covers the classes, else maskclip's."""
    for sub in leaf_datasets(dataset):
        declared = type(sub).METAINFO.get('palette') if hasattr(type(sub), 'METAINFO') else None
        if declared is not None and len(declared) >= num_classes:
            return np.asarray(declared, dtype=np.uint8)[:num_classes].reshape(-1, 3)
    return default_palette(num_classes)


def save_label(path: str, labels: np.ndarray, flat_palette: list) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode='P')
    image.putpalette(flat_palette)
    image.save(path)


def build_model(cfg, args):
    from mmengine.runner import load_checkpoint
    from mmseg.registry import MODELS

    model = MODELS.build(cfg.model)
    if args.checkpoint:
        if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
            raise ValueError(f'Checkpoint not found: {args.checkpoint}')
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    source = args.source or ('teacher' if hasattr(model, 'teacher') else 'model')
    if source == 'teacher' and not hasattr(model, 'teacher'):
        raise ValueError(f'--source teacher: the model ({type(model).__name__}) has no teacher '
                         '(only MaskCLIP+ configs have one); use --source model.')
    if source == 'model' and not args.checkpoint and hasattr(model, 'teacher'):
        print('WARNING: --source model on a MaskCLIP+ config without --checkpoint labels with an '
              'untrained student.', file=sys.stderr)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return model.to(device).eval(), source


def class_names_of(model, source: str, dataset) -> list:
    labeller = model.teacher if source == 'teacher' else model
    for candidate in (labeller, model):
        names = getattr(candidate, 'class_names', None)
        if names is None:
            names = getattr(getattr(candidate, 'decode_head', None), 'class_names', None)
        if names is not None:
            return list(names)
    return list(dataset.metainfo.get('classes') or [])


@torch.no_grad()
def predict(model, source: str, batch: dict):
    if source == 'model':
        return model.test_step(batch)
    data = model.data_preprocessor(batch, False)  # the student's normalisation, as in training
    return model.teacher_predict(data['inputs'], data['data_samples'])  # training's labels


def export_labels(cfg, args) -> dict:
    from mmseg.registry import DATASETS

    pipeline = label_pipeline(cfg, args.split)
    dataset_cfg = split_dataset_cfg(cfg, args.split, pipeline)
    check_image_layout(dataset_cfg)
    if cfg.model.get('teacher') is None and args.source == 'teacher':  # fail before building
        raise ValueError(f"--source teacher: the model ({cfg.model.get('type')}) has no teacher "
                         '(only MaskCLIP+ configs have one); use --source model.')
    check_clip_weights(cfg.model)
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError(f'The {args.split} split holds no images ({dataset_cfg.get("type")}).')
    model, source = build_model(cfg, args)
    names = class_names_of(model, source, dataset)
    if len(names) > IGNORE:
        raise ValueError(f'{len(names)} classes do not fit in 8-bit PNG labels (255 = ignore).')
    colours = choose_palette(dataset, max(len(names), 1))
    flat_palette = colours.reshape(-1).tolist()
    flat_palette += [0] * (3 * 256 - len(flat_palette))

    out_dir = osp.join(args.out, 'ann_dir', args.split)
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(args.out, 'classes.txt'), 'w') as f:
        f.write(''.join(f'{name}\n' for name in names))

    total = len(dataset) if args.limit is None else min(args.limit, len(dataset))
    counts = np.zeros(256, dtype=np.int64)
    written = 0
    leaves = list(leaf_datasets(dataset))
    try:
        from tqdm import tqdm
        progress = tqdm(total=total, desc=f'labelling ({source})', unit='img', file=sys.stderr)
    except ImportError:
        from mmengine.utils import ProgressBar
        progress = ProgressBar(total)
    for index in range(total):
        batch = pseudo_collate([dataset[index]])
        sample = predict(model, source, batch)[0]
        labels = sample.pred_sem_seg.data.squeeze(0).cpu().numpy()
        img_path = sample.metainfo['img_path']
        owner = leaves[0] if len(leaves) == 1 else _owner(dataset, index)
        save_label(osp.join(out_dir, output_name(img_path, owner)), labels, flat_palette)
        counts += np.bincount(labels.ravel().astype(np.int64), minlength=256)[:256]
        written += 1
        progress.update(1)
    if hasattr(progress, 'close'):
        progress.close()
    return dict(written=written, out_dir=out_dir, names=names, counts=counts, source=source)


def _owner(dataset, index: int):
    """The leaf dataset of a ConcatDataset that holds ``index``."""
    if hasattr(dataset, 'get_dataset_idx_and_sample_idx'):
        dataset_idx, sample_idx = dataset.get_dataset_idx_and_sample_idx(index)
        return _owner(dataset.datasets[dataset_idx], sample_idx)
    return dataset


def print_export_summary(result: dict, args) -> None:
    names, counts = result['names'], result['counts']
    total = max(int(counts.sum()), 1)
    print(f"\nWrote {result['written']} label maps (source: {result['source']}) to "
          f"{result['out_dir']}; class names in {osp.join(args.out, 'classes.txt')}.")
    print('Pixel share per class (top 10):')
    for index in np.argsort(-counts, kind='stable')[:10]:
        if counts[index] == 0:
            break
        name = 'ignore' if index == IGNORE else (
            names[index] if index < len(names) else f'class {index}')
        print(f'  {index:3d} {name:<24s} {100 * counts[index] / total:6.2f}%')
    print(f"Reuse as annotations: data_prefix=dict(seg_map_path='{result['out_dir']}'), "
          "seg_map_suffix='.png', reduce_zero_label=False.")


def export_pseudo_labels(config: str, out: str, *, checkpoint: Optional[str] = None,
                         source: Optional[str] = None, split: str = 'train',
                         limit: Optional[int] = None, cfg_options: Optional[dict] = None,
                         clip_weights: Optional[str] = None, random_weights: bool = False,
                         verbose: bool = True) -> dict:
    """Label every image of ``split`` (the first ``limit``) with the config's model or, for
    MaskCLIP+ (``source='teacher'``, its default), with its frozen teacher; write the PNGs and
    classes.txt under ``out``. Returns ``{'source', 'written', 'out_dir', 'names', 'counts'}``.
    Bad input raises ``ValueError`` (or the weights' / dataset layout's own error) naming the fix.
    """
    from mmengine.registry import DefaultScope

    from maskclip.utils import register_all_modules
    if source not in (None, 'teacher', 'model'):
        raise ValueError(f"source={source!r}: use 'teacher' (MaskCLIP+) or 'model'.")
    if limit is not None and limit < 1:
        raise ValueError(f'limit={limit}: label at least one image (or None for all).')
    args = SimpleNamespace(config=config, out=out, checkpoint=checkpoint, source=source,
                           split=split, limit=limit, cfg_options=cfg_options,
                           clip_weights=clip_weights, random_weights=random_weights)
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        result = export_labels(build_export_cfg(args), args)
    if verbose:
        print_export_summary(result, args)
    return result
