"""ReCLIP's class existence (paper Sec. 3.4) computed for every image of a dataset split, and
saved as the cache the rectification head reads (:mod:`reclip.models.existence_cache`);
``tools/cache_class_existence.py`` is its command line (the options are explained there).

Two views of an image (``options.preprocess``):

* ``'clip'`` (the authors' ``tools/pseudo_class.py:103-121`` at dogehhh/ReCLIP@99b64d7): CLIP's
  own preprocessing (short side 224 bicubic, centre crop 224, CLIP's mean/std) through the plain
  CLIP image tower; ``options.half`` runs it in float16 as they did;
* ``'test'``: the whole image through the config's test-time ``Resize`` and the config's
  backbone (its global embedding), the same view as the online existence at test size.

:func:`cache_class_existence` is the whole job; the steps' ``args`` hold its options (``out,
split, batch_size, preprocess, half, device``).
"""
import copy
import os
import os.path as osp
import sys
from types import SimpleNamespace
from typing import Optional

import torch
from mmengine.dataset import pseudo_collate

from maskclip.datasets.layout import check_image_layout, split_dataset_cfg
from maskclip.utils import check_clip_weights
from reclip.models.existence_cache import image_id, save_existence_cache

HEAD = 'ReCLIPRectificationHead'


# ------------------------------------------------------------------------------ config
def rectification_model_cfg(cfg) -> dict:
    """The rectification model of the config: ``cfg.model`` or a distillation's teacher."""
    if cfg.get('stages'):
        names = ', '.join(f"{s.get('name')}: {s.get('config')}" for s in cfg.stages)
        raise ValueError(f'{cfg.filename} is a multi-stage config ({names}); run this tool on '
                         "its rectification stage's config.")
    model = cfg.get('model')
    if model is None:
        raise ValueError(f'{cfg.filename} has no model.')
    if isinstance(model.get('teacher'), dict):
        model = model['teacher']
    head = model.get('decode_head') or {}
    if head.get('type') != HEAD:
        raise ValueError(f"This tool needs a ReCLIP config (a {HEAD} in model.decode_head or "
                         f"model.teacher.decode_head); {cfg.filename} has "
                         f"{head.get('type') or model.get('type')!r}.")
    if head.get('learnable_query'):
        raise ValueError('learnable_query=True: class existence uses the learned Query '
                         'embeddings, which change during training; compute it online '
                         '(existence_cache=None).')
    model = copy.deepcopy(model)
    model['decode_head']['existence_cache'] = None  # compute it, do not read an old cache
    return model


def test_resize(cfg) -> dict:
    """The ``Resize`` step of the config's test pipeline (the test resolution)."""
    pipeline = cfg.get('test_pipeline')
    if pipeline is None:
        pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline')
    resizes = [step for step in pipeline or [] if step.get('type') == 'Resize']
    if len(resizes) != 1:
        raise ValueError('The config needs exactly one Resize step in its test_pipeline (the '
                         f'whole-image test resolution); found {len(resizes)}.')
    return copy.deepcopy(resizes[0])


# ------------------------------------------------------------------------------ work
def batches(dataset, batch_size: int):
    """Consecutive images of equal size, at most ``batch_size`` at a time (the test-mode data
    preprocessor does not pad, and padding would change the global embedding)."""
    group = []
    for index in range(len(dataset)):
        item = dataset[index]
        if group and (len(group) == batch_size or
                      item['inputs'].shape != group[0]['inputs'].shape):
            yield group
            group = []
        group.append(item)
    if group:
        yield group


def progress_bar(total: int):
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc='class existence', unit='img', file=sys.stderr)
    except ImportError:
        from mmengine.utils import ProgressBar
        return ProgressBar(total)


def images_of(dataset):
    """The image path of every image of a dataset built without a pipeline."""
    for index in range(len(dataset)):
        yield dataset.get_data_info(index)['img_path']


def chunks(items, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@torch.no_grad()
def existence_clip_view(dataset, head, clip_cfg: dict, args, device):
    """(image path, (K,) bool) per image, seen as CLIP's own preprocessing sees it."""
    import open_clip
    from PIL import Image

    from maskclip.clip import load_clip
    from reclip.models.rectification import present_from_logits

    model = copy.deepcopy(load_clip(**clip_cfg)).to(device)
    dtype = torch.float16 if args.half else torch.float32
    model = model.to(dtype)
    transform = open_clip.image_transform(model.visual.image_size, is_train=False)
    text = head.query_embeddings().to(device=device, dtype=dtype)
    for paths in chunks(images_of(dataset), args.batch_size):
        images = torch.stack([transform(Image.open(path)) for path in paths])
        embedding = model.encode_image(images.to(device=device, dtype=dtype))
        # in the model's dtype, as the authors (float16 logits take few distinct values)
        embedding = embedding / embedding.norm(dim=1, keepdim=True)
        logits = head.logit_scale * embedding @ text.t()
        rows = present_from_logits(logits.float(), head.existence_threshold,
                                   head.existence_top_k, head.existence_inclusive)
        yield from zip(paths, rows.cpu())


@torch.no_grad()
def existence_test_view(dataset, model, args):
    """(image path, (K,) bool) per image through the config's test resize and backbone."""
    for group in batches(dataset, args.batch_size):
        data = model.data_preprocessor(pseudo_collate(group), False)
        feats = model.extract_feat(data['inputs'])
        rows = model.decode_head.present_classes(feats.global_embedding.float(),
                                                 data['data_samples'])
        for sample, row in zip(data['data_samples'], rows.cpu()):
            yield sample.metainfo['img_path'], row


@torch.no_grad()
def compute_class_existence(cfg, args) -> dict:
    from mmseg.registry import DATASETS, MODELS

    model_cfg = rectification_model_cfg(cfg)
    resize = test_resize(cfg) if args.preprocess == 'test' else None
    pipeline = ([dict(type='LoadImageFromFile'), resize, dict(type='PackSegInputs')]
                if resize else [])
    dataset_cfg = split_dataset_cfg(cfg, args.split, pipeline)
    check_image_layout(dataset_cfg)
    check_clip_weights(model_cfg)
    dataset = DATASETS.build(dataset_cfg)
    if len(dataset) == 0:
        raise ValueError(f'The {args.split} split holds no images ({dataset_cfg.get("type")}).')

    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = MODELS.build(model_cfg).to(device).eval()
    head = model.decode_head
    clip = model_cfg.get('clip') or {}
    rows = (existence_clip_view(dataset, head, clip, args, device)
            if args.preprocess == 'clip' else existence_test_view(dataset, model, args))
    present, paths = {}, {}
    bar = progress_bar(len(dataset))
    for path, row in rows:
        key = image_id(path)
        if key in paths and paths[key] != path:
            raise ValueError(f"Two images share the id '{key}' ({paths[key]}, {path}): the "
                             'cache is keyed by file name without folder and extension.')
        paths[key] = path
        present[key] = [int(k) for k in torch.nonzero(row).flatten()]
        bar.update(1)
    if hasattr(bar, 'close'):
        bar.close()

    settings = dict(config=cfg.filename, split=args.split, preprocess=args.preprocess,
                    half=args.half, threshold=head.existence_threshold,
                    top_k=head.existence_top_k, inclusive=head.existence_inclusive,
                    logit_scale=head.logit_scale, clip_model=clip.get('model_name'),
                    clip_weights=clip.get('pretrained'),
                    templates=model_cfg['decode_head'].get('templates'),
                    resize=(dict(scale=resize.get('scale'), keep_ratio=resize.get('keep_ratio'))
                            if resize else 'clip'),
                    images=len(present))
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    save_existence_cache(args.out, head.class_names, present, **settings)
    return dict(present=present, class_names=list(head.class_names), settings=settings,
                teacher=isinstance(cfg.model.get('teacher'), dict))


def print_existence_summary(result: dict, args) -> None:
    present, names = result['present'], result['class_names']
    counts = [0] * len(names)
    for indices in present.values():
        for k in indices:
            counts[k] += 1
    mean = sum(map(len, present.values())) / max(len(present), 1)
    print(f'\nWrote the class existence of {len(present)} images ({mean:.2f} classes per image) '
          f'to {args.out}.')
    top = sorted(range(len(names)), key=lambda k: -counts[k])[:10]
    print('Most frequent classes: ' + ', '.join(f'{names[k]} ({counts[k]})' for k in top
                                                if counts[k]))
    key = 'model.teacher.decode_head' if result['teacher'] else 'model.decode_head'
    print(f'Use it with: --cfg-options {key}.existence_cache={args.out}')


def cache_class_existence(config: str, out: str, *, split: str = 'train',
                          preprocess: str = 'clip', half: bool = False, batch_size: int = 1,
                          device: Optional[str] = None, cfg_options: Optional[dict] = None,
                          clip_weights: Optional[str] = None, random_weights: bool = False,
                          verbose: bool = True) -> dict:
    """Compute the class existence of every image of ``split`` for the ReCLIP rectification
    config ``config`` (or a distillation config: its teacher) and write the cache to ``out``.
    Returns ``{'present': {image id: [class indices]}, 'class_names', 'teacher', ...}``.
    Bad input raises ``ValueError`` (or the weights' / dataset layout's error) naming the fix."""
    from mmengine.registry import DefaultScope

    import reclip
    from maskclip.utils import load_tool_cfg
    if preprocess not in ('clip', 'test'):
        raise ValueError(f"preprocess={preprocess!r}: use 'clip' (the authors') or 'test'.")
    if batch_size < 1:
        raise ValueError(f'batch_size={batch_size}: at least one image per forward pass.')
    if half and preprocess != 'clip':
        raise ValueError("half=True is for preprocess='clip' (the authors' float16 CLIP).")
    args = SimpleNamespace(config=config, out=out, split=split, preprocess=preprocess, half=half,
                           batch_size=batch_size, device=device, cfg_options=cfg_options,
                           clip_weights=clip_weights, random_weights=random_weights,
                           launcher='none', work_dir=None)
    reclip.register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmseg'):
        result = compute_class_existence(load_tool_cfg(args), args)
    if verbose:
        print_existence_summary(result, args)
    return result
