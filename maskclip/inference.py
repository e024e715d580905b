"""Inference with any config and checkpoint, in the style of ``mmseg.apis``.

>>> model = maskclip.init_model('configs/maskclip_plus/...py', 'work_dirs/.../iter_2000.pth')
>>> result = maskclip.inference_model(model, 'photo.jpg')   # a SegDataSample
>>> labels = result.pred_sem_seg.data[0]                     # (H, W) at the image's size

``init_model`` builds what a config describes (MaskCLIP, MaskCLIP+, ReCLIP rectification or
distillation, any last-block mode), optionally with other classes, and loads its checkpoint;
``inference_model`` runs the config's test pipeline and the model's ``predict``, exactly what
``tools/test.py`` does for one image, so the labels are those of ``tools/test.py``.
"""
from __future__ import annotations

import copy
import importlib
import os
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

#: segmentor type -> (what it is called, where in its config the class names live); the models
#: that learn weights (every one but MaskClipSegmentor) need their checkpoint
VOCABULARY_NODES = {
    'MaskClipSegmentor': ('MaskCLIP', ('decode_head',)),
    'MaskClipPlusSegmentor': ('MaskCLIP+', ('text_classifier',)),
    'ReCLIPRectificationSegmentor': ('ReCLIP (rectification)', ('decode_head',)),
    'ReCLIPDistillSegmentor': ('ReCLIP', ('teacher', 'decode_head')),
}
TRAINED_MODELS = tuple(kind for kind in VOCABULARY_NODES if kind != 'MaskClipSegmentor')


def segmentor_type(model_cfg: dict) -> str:
    """The segmentor's type (inside a TTA wrapper too); a clear error for others."""
    model_cfg = model_cfg.get('module', model_cfg) if model_cfg.get('type') == 'SegTTAModel' \
        else model_cfg
    kind = model_cfg.get('type')
    if kind not in VOCABULARY_NODES:
        raise ValueError(f'The config builds a {kind}; maskclip.init_model takes the configs of '
                         f'{", ".join(VOCABULARY_NODES)}.')
    return kind


def vocabulary_node(model_cfg: dict) -> dict:
    """The config dict whose ``class_names`` is the model's vocabulary."""
    node = model_cfg
    for key in VOCABULARY_NODES[segmentor_type(model_cfg)][1]:
        node = node[key]
    return node


def inference_cfg(model_cfg: dict, classes=None) -> ConfigDict:
    """A copy of a model config ready for inference: training-only inputs switched off (class
    existence caches, the distillation teacher's checkpoint, zero-shot masks, self-training), and
    ``classes`` (a vocabulary name, file or list) set wherever the model reads its classes."""
    model_cfg = ConfigDict(copy.deepcopy(dict(model_cfg)))
    kind = segmentor_type(model_cfg)
    if classes is not None:
        from maskclip.text import load_vocabulary
        names = [list(c) for c in load_vocabulary(classes)] if not isinstance(classes, str) \
            else classes
        vocabulary_node(model_cfg)['class_names'] = names
        if kind == 'MaskClipPlusSegmentor' and 'decode_head' in model_cfg.teacher:
            model_cfg.teacher.decode_head['class_names'] = names
    if kind == 'MaskClipPlusSegmentor':
        model_cfg.update(unseen_classes=None, self_training_start=None)
    elif kind == 'ReCLIPRectificationSegmentor':
        model_cfg.decode_head['existence_cache'] = None
    elif kind == 'ReCLIPDistillSegmentor':
        model_cfg.update(teacher_checkpoint=None)  # a distilled checkpoint holds W_r itself
        model_cfg.teacher.decode_head['existence_cache'] = None
    return model_cfg


def _register(kind: str) -> None:
    """The registration the config's modules need (ReCLIP's on top of maskclip's)."""
    module = importlib.import_module('reclip' if kind.startswith('ReCLIP') else 'maskclip.utils')
    module.register_all_modules(init_default_scope=False)


def init_model(config: Union[str, os.PathLike, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               classes: Union[None, str, Sequence] = None,
               clip_weights: Optional[str] = None) -> torch.nn.Module:
    """Build the segmentor of ``config`` for inference and load ``checkpoint``.

    Args:
        config: a config file or a loaded :class:`mmengine.config.Config`.
        checkpoint: the trained model's checkpoint; required for MaskCLIP+ and ReCLIP (their
            students and learned prompts), not used by the training-free MaskCLIP configs.
        device: where the model runs.
        classes: another vocabulary (built-in name, class file or list); default the config's.
            A ReCLIP student with a per-class head predicts its own classes only.
        clip_weights: CLIP weights for every CLIP of the model (a file or an open_clip tag),
            as ``tools/test.py --clip-weights``; ``None`` keeps the config's.

    The config is kept as ``model.cfg`` (its test pipeline is what :func:`inference_model` runs).
    """
    cfg = config if isinstance(config, Config) else _read_config(config)
    kind = segmentor_type(cfg.model)
    if kind in TRAINED_MODELS and checkpoint is None:
        raise ValueError(f'{VOCABULARY_NODES[kind][0]} learns weights: give the checkpoint its '
                         'training wrote (e.g. work_dirs/<config>/iter_N.pth or best_*.pth).')
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise ValueError(f'The checkpoint {checkpoint} does not exist.')
    _register(kind)
    from maskclip.utils import check_clip_weights, clip_cfgs_of
    model_cfg = inference_cfg(cfg.model, classes)
    if clip_weights is not None:
        for clip in clip_cfgs_of(model_cfg):
            clip['pretrained'] = clip_weights
    check_clip_weights(model_cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(model_cfg)
    if checkpoint is not None:
        _load_weights(model, checkpoint)
    model = revert_sync_batchnorm(model).to(device).eval()
    model.cfg = cfg
    return model


def _read_config(path) -> Config:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f'The config {path} does not exist.')
    return Config.fromfile(path)


def _load_weights(model: torch.nn.Module, checkpoint: str) -> None:
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

    from maskclip.engine.checkpoint import register_checkpoint_safe_globals
    register_checkpoint_safe_globals()
    state = _load_checkpoint(checkpoint, map_location='cpu')
    try:
        _load_checkpoint_to_model(model, state, strict=True)
    except (RuntimeError, KeyError) as error:
        raise ValueError(f'The checkpoint {checkpoint} does not fit the model of the config: '
                         f'{str(error).splitlines()[0]}') from None


def inference_pipeline(cfg: Config, from_array: bool = False) -> Compose:
    """The config's test pipeline (tools/test.py's resizing) without labels; ``from_array``
    loads an image array instead of a file."""
    loader = cfg.get('test_dataloader') or {}
    steps = ((loader.get('dataset') or {}).get('pipeline') or cfg.get('test_pipeline')
             or [dict(type='LoadImageFromFile'), dict(type='PackSegInputs')])
    kept = []
    for step in steps:
        step = copy.deepcopy(dict(step))
        if step['type'] == 'LoadAnnotations':
            continue
        if from_array and str(step['type']).startswith('LoadImageFrom'):
            step = dict(type='LoadImageFromNDArray')
        kept.append(step)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return Compose(kept)


def _as_input(image) -> dict:
    """A path is read as tools/test.py reads it; an in-memory image (array, tensor, PIL image)
    is converted to HxWx3 uint8 RGB or refused by name (:func:`.visualization.as_rgb_array`)."""
    if isinstance(image, (str, os.PathLike)):
        if not os.path.isfile(image):
            raise ValueError(f'Image not found: {image}')
        return dict(img_path=os.fspath(image))
    from maskclip.visualization import as_rgb_array
    rgb = as_rgb_array(image)
    return dict(img=np.ascontiguousarray(rgb[:, :, ::-1]))  # BGR, as mmcv loads files


@torch.no_grad()
def inference_model(model: torch.nn.Module, images):
    """Predict one image (a path, or an RGB / gray / RGBA array, tensor or PIL image of uint8 or
    uint16 values, HxWxC or CxHxW) or a list of them; returns a
    :class:`~mmseg.structures.SegDataSample` (or a list) with ``pred_sem_seg`` and ``seg_logits``
    at each image's own size, as tools/test.py predicts."""
    single = not isinstance(images, (list, tuple))
    pipelines, results = {}, []
    for image in ([images] if single else images):
        data = _as_input(image)
        from_array = 'img' in data
        if from_array not in pipelines:
            pipelines[from_array] = inference_pipeline(model.cfg, from_array)
        packed = pipelines[from_array](data)
        results.append(model.test_step(dict(inputs=[packed['inputs']],
                                            data_samples=[packed['data_samples']]))[0])
    return results[0] if single else results
