"""Every config file parses, matches its dataset and builds (with tiny random CLIPs)."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS

from maskclip.models.builder import CLIP_MEAN, IMAGENET_MEAN, encoder_type
from maskclip.utils import REGISTERING_MODULES, clip_cfgs_of

from ..conftest import TINY_RN, TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)
NAME = re.compile(r'^maskclip(-(ks|pd|ks-pd|baseline))?_(vit-b16|r50)_[a-z0-9-]+-'
                  r'(\d+x\d+|ms(-\d+)+)\.py$'
                  r'|^maskclip-plus-(vit-b16|r50)(-(ks|pd|ks-pd))?_deeplabv(2|3plus)-r(50|101)_4xb4-'
                  r'\d+k_[a-z0-9-]+-(512x512|480x480)\.py$'
                  r'|^reclip-rectification_vit-b16_1xb1-\d+e_[a-z0-9-]+-\d+x\d+\.py$'
                  r'|^reclip-distillation_vit-b16_deeplabv2-r(50|101)_4xb4-\d+[ke]_[a-z0-9-]+-\d+x\d+\.py$'
                  r'|^reclip_vit-b16_deeplabv2-r(50|101)_[a-z0-9-]+\.py$'
                  r'|^training-free_vit-b16_[a-z0-9-]+-\d+x\d+-slide\d+\.py$'
                  r'|^(sclip|clearclip|naclip(-pamr)?)_vit-b16_[a-z0-9-]+-\d+x\d+-'
                  r'(slide\d+|whole)\.py$')
#: the training-free methods' own presets (their values: tests/test_configs/test_training_free_presets.py)
METHOD_DIRS = ('sclip', 'clearclip', 'naclip')
PIPELINES = [p for p in CONFIGS if osp.basename(p).startswith('reclip_')]  # rectify -> distill


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


SINGLE = [p for p in CONFIGS if p not in PIPELINES]


@pytest.mark.parametrize('path', SINGLE, ids=[osp.basename(p) for p in SINGLE])
def test_config_builds(path):
    assert NAME.match(osp.basename(path)), f'{osp.basename(path)} breaks the naming convention'
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    reclip = osp.basename(path).startswith('reclip')
    # the registering submodules (importing the packages registers nothing)
    assert cfg.custom_imports == dict(
        imports=list(REGISTERING_MODULES) + (['reclip.models'] if reclip else []),
        allow_failed_imports=False)
    model_cfg = segmentor_cfg(cfg)
    # paper configs normalise like the authors' code: ImageNet statistics (MaskCLIP's mmseg
    # code, every DeepLab student), CLIP's own for ReCLIP's CLIP (OpenAI's clip package) and the
    # training-free protocol (SCLIP / ClearCLIP / NACLIP code)
    protocol = osp.basename(osp.dirname(path)) == 'protocol'
    method_preset = osp.basename(osp.dirname(path)) in METHOD_DIRS
    # ... except the ReCLIP authors' released settings (ImageNet statistics everywhere)
    rectification = model_cfg.get('teacher', model_cfg)
    reclip_authors = rectification.get('decode_head', {}).get('reference_name_layout') == 'authors'
    mean = CLIP_MEAN if (model_cfg.type == 'ReCLIPRectificationSegmentor' and not reclip_authors
                         or protocol or method_preset) else IMAGENET_MEAN
    # (the method presets keep their code's 3-decimal rounding of CLIP's statistics)
    assert list(model_cfg.data_preprocessor.mean) == pytest.approx(
        mean, abs=1e-3 if method_preset else 1e-6)
    if model_cfg.type == 'ReCLIPDistillSegmentor':
        assert list(model_cfg.teacher.data_preprocessor.mean) == pytest.approx(
            IMAGENET_MEAN if reclip_authors else CLIP_MEAN)
    if reclip_authors:  # they train from the class-existence cache, absent here
        assert rectification.decode_head.existence_cache.startswith('data/reclip_existence/')
        rectification.decode_head.existence_cache = None
    clips = list(clip_cfgs_of(cfg.model))
    assert clips and all(c['pretrained'] == 'openai' for c in clips)
    encoder = model_cfg.get('teacher', model_cfg).backbone.type
    for clip in clips:  # same family, tiny and random, so that every config builds in seconds
        tiny = TINY_RN if encoder_type(clip['model_name']) == 'MaskClipResNet' else TINY_VIT
        assert encoder_type(clip['model_name']) == encoder
        clip.update(model_name=tiny, pretrained=None)
    if model_cfg.type in ('MaskClipPlusSegmentor', 'ReCLIPDistillSegmentor'):
        # the student's features match the tiny CLIP
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
    if protocol:  # the name's short side and window; background by threshold where it is a class
        short, crop = map(int, re.search(r'-(\d+)x\d+-slide(\d+)\.py$', path).groups())
        assert cfg.test_dataloader.dataset.pipeline[1].scale == (2048, short)
        assert model_cfg.test_cfg == dict(mode='slide', crop_size=(crop, crop),
                                          stride=(crop // 2, crop // 2))
        has_bg = segmentor.class_names[0] == 'background'
        assert (segmentor.decode_head.bg_threshold is not None) == has_bg
    schedule = re.search(r'_4xb4-(\d+)k_', path)
    if schedule:  # the name's schedule is the config's: iterations, poly end, SGD of the paper
        iters = int(schedule.group(1)) * 1000
        assert cfg.train_cfg.max_iters == iters and cfg.param_scheduler[0]['end'] == iters
        # ... except Context zero-shot: lr 0.004, weight decay 1e-4 as the authors' config
        lr, decay = (0.004, 1e-4) if 'pascal-context-60-zero-shot' in path else (0.01, 0.0005)
        assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=lr, momentum=0.9,
                                                   weight_decay=decay)
        assert cfg.train_dataloader.batch_size == 4
    epochs = re.search(r'_1xb1-(\d+)e_', path)
    if epochs:  # ReCLIP rectification: batch 1, SGD 0.01, poly over 4x (6x for ADE) the epochs
        assert cfg.train_cfg.max_epochs == int(epochs.group(1))  # (the authors': over all of them)
        assert cfg.param_scheduler[0]['end'] == int(epochs.group(1)) * (
            1 if reclip_authors else 6 if 'ade' in path else 4)
        assert cfg.train_dataloader.batch_size == 1
        assert cfg.optim_wrapper.optimizer.lr == 0.01
    if 'zero-shot' in path:  # the model and the metric hide / score the same unseen classes
        assert segmentor.unseen_classes.tolist() == sorted(cfg.test_evaluator.unseen_classes)
        assert cfg.model.self_training_start == cfg.train_cfg.max_iters // 10


@pytest.mark.parametrize('name', [
    'maskclip-plus-vit-b16_deeplabv3plus-r101_4xb4-40k_pascal-context-60-zero-shot-480x480.py',
    'maskclip-plus-r50_deeplabv2-r101_4xb4-4k_pascal-context-59-480x480.py'])
def test_maskclip_plus_configs_take_a_training_step(name):
    """DeepLabv3+ and a ResNet teacher, as configured, learn through the text classifier."""
    import torch
    from mmengine.optim import OptimWrapper
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'maskclip_plus', name))
    tiny = TINY_RN if 'r50_' in name else TINY_VIT
    cfg.model.teacher.clip.update(model_name=tiny, pretrained=None)
    cfg.model.text_classifier.templates = 'single'
    cfg.model.decode_head.channels = 32
    cfg.model.backbone.update(init_cfg=None, norm_cfg=dict(type='BN', requires_grad=True))
    cfg.model.data_preprocessor.size = (64, 64)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    model.train()
    sample = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 59, (1, 64, 64))))
    sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
    data = dict(inputs=[torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)] * 2,
                data_samples=[sample, sample.clone()])
    head_params = [p for p in model.decode_head.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in head_params]
    log = model.train_step(data, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1)))
    assert torch.isfinite(log['loss'])
    assert any(not torch.equal(b, p) for b, p in zip(before, head_params))


@pytest.mark.parametrize('path', PIPELINES, ids=[osp.basename(p) for p in PIPELINES])
def test_two_stage_configs_chain_matching_stages(path):
    """rectify -> distill: same dataset, the teacher is the rectification model, checkpoint passed."""
    from maskclip.stages import read_stages
    cfg = Config.fromfile(path)
    assert NAME.match(osp.basename(path))
    rectify, distill = read_stages(cfg)
    assert (rectify.name, distill.name) == ('rectification', 'distillation')
    assert rectify.checkpoint_to is None and distill.checkpoint_to == 'model.teacher_checkpoint'
    dataset = re.match(r'reclip_vit-b16_deeplabv2-r\d+_(.+)\.py$', osp.basename(path)).group(1)
    first, second = Config.fromfile(rectify.config), Config.fromfile(distill.config)
    assert f'_{dataset}-' in osp.basename(rectify.config) and f'_{dataset}-' in osp.basename(
        distill.config)
    assert second.model.teacher_checkpoint is None
    teacher = second.model.teacher
    assert teacher.type == first.model.type == 'ReCLIPRectificationSegmentor'
    assert teacher.decode_head == first.model.decode_head
    assert teacher.backbone == first.model.backbone and teacher.clip == first.model.clip
    assert teacher.data_preprocessor == first.model.data_preprocessor
    assert first.train_dataloader.dataset.type == second.train_dataloader.dataset.type
