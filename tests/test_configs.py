"""Every config file parses, matches its dataset and builds (with tiny random CLIPs)."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

import maskclip  # noqa: F401  (registers modules)
from maskclip.models.builder import IMAGENET_MEAN, encoder_type
from maskclip.utils import clip_cfgs_of

from .conftest import TINY_RN, TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
NAME = re.compile(r'^maskclip(-(ks|pd|ks-pd|baseline))?_(vit-b16|r50)_[a-z0-9-]+-'
                  r'(\d+x\d+|ms(-\d+)+)\.py$'
                  r'|^maskclip-plus-(vit-b16|r50)_deeplabv(2|3plus)-r(50|101)_4xb4-\d+k_[a-z0-9-]+'
                  r'-512x512\.py$')


def test_there_are_configs_for_every_dataset_backbone_and_variant():
    names = {osp.basename(p) for p in CONFIGS}
    for dataset in ['voc12-20-512x512', 'voc12-21-512x512', 'pascal-context-59-520x520',
                    'pascal-context-60-520x520', 'coco-stuff164k-512x512', 'ade20k-512x512',
                    'cityscapes-512x1024']:
        for backbone in ['vit-b16', 'r50']:
            for variant in ['', '-ks', '-pd', '-ks-pd', '-baseline']:
                assert f'maskclip{variant}_{backbone}_{dataset}.py' in names


def segmentor_cfg(cfg):
    return cfg.model.module if cfg.model.type == 'SegTTAModel' else cfg.model


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_builds(path):
    assert NAME.match(osp.basename(path)), f'{osp.basename(path)} breaks the naming convention'
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports == dict(imports=['maskclip'], allow_failed_imports=False)
    model_cfg = segmentor_cfg(cfg)
    # paper configs normalise like the authors' code (ImageNet statistics)
    assert list(model_cfg.data_preprocessor.mean) == IMAGENET_MEAN
    clips = list(clip_cfgs_of(cfg.model))
    assert clips and all(c['pretrained'] == 'openai' for c in clips)
    encoder = model_cfg.get('teacher', model_cfg).backbone.type
    for clip in clips:  # same family, tiny and random, so that every config builds in seconds
        tiny = TINY_RN if encoder_type(clip['model_name']) == 'MaskClipResNet' else TINY_VIT
        assert encoder_type(clip['model_name']) == encoder
        clip.update(model_name=tiny, pretrained=None)
    if model_cfg.type == 'MaskClipPlusSegmentor':  # the student's features match the tiny CLIP
        assert model_cfg.decode_head.channels == (1024 if encoder == 'MaskClipResNet' else 512)
        model_cfg.decode_head.channels = 32
        model_cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        dataset_cls = DATASETS.get(cfg.test_dataloader.dataset.type)
        for transform in cfg.test_dataloader.dataset.pipeline:
            TRANSFORMS.build(transform)
    segmentor = getattr(model, 'module', model)
    assert len(segmentor.class_names) == len(dataset_cls.METAINFO['classes'])
    assert segmentor.decode_head.num_classes == len(dataset_cls.METAINFO['classes'])
    if 'zero-shot' in path:  # the model and the metric hide / score the same unseen classes
        assert segmentor.unseen_classes.tolist() == sorted(cfg.test_evaluator.unseen_classes)
        assert cfg.model.self_training_start == cfg.train_cfg.max_iters // 10
