"""maskclip.init_model / inference_model: any config and checkpoint, the labels of tools/test.py."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

import maskclip
from maskclip.clip import ClipWeightsError
from maskclip.engine.test_runner import run_test

from ..conftest import TINY_VIT, save_clip_weights

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PLUS = osp.join(ROOT, 'configs', 'maskclip_plus',
                'maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """One 60 x 70 image (and labels) in the sample-scenes layout, and tiny CLIP weights."""
    root = tmp_path_factory.mktemp('scene')
    rng = np.random.default_rng(1)
    image = np.kron(rng.integers(0, 255, (6, 7, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    for folder in ('img_dir/val', 'ann_dir/val'):
        (root / folder).mkdir(parents=True)
    Image.fromarray(image).save(root / 'img_dir/val/scene.png')
    Image.fromarray(rng.integers(0, 8, image.shape[:2]).astype(np.uint8)).save(
        root / 'ann_dir/val/scene.png')
    save_clip_weights(TINY_VIT, root / 'tiny.pt')
    return dict(root=root, image=image, path=str(root / 'img_dir/val/scene.png'),
                weights=str(root / 'tiny.pt'))


def tiny_config(scene, base, model, name):
    path = scene['root'] / name
    path.write_text(f'''
_base_ = ['{base}']
model = {model}
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(2048, 48),
                 keep_ratio=True), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
test_dataloader = dict(num_workers=0, persistent_workers=False, batch_size=1, dataset=dict(
    _delete_=True, type='SampleScenesDataset', data_root='{scene['root']}', img_suffix='.png',
    data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=test_pipeline))
val_dataloader = test_dataloader
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
''')
    return str(path)


def tool_labels(config, scene, tmp_path, checkpoint=None):
    """The label map tools/test.py --out writes (its runner: maskclip.engine.test_runner)."""
    run_test(config, checkpoint=checkpoint, clip_weights=scene['weights'],
             work_dir=str(tmp_path / 'work'), out=str(tmp_path / 'out'))
    return np.array(Image.open(tmp_path / 'out' / 'scene.png'))


def test_training_free_config_predicts_as_tools_test(scene, tmp_path):
    base = f'{ROOT}/configs/naclip/naclip-pamr_vit-b16_context59-336x336-slide224.py'
    config = tiny_config(scene, base,
                         f"dict(clip=dict(model_name='{TINY_VIT}'), decode_head=dict("
                         "templates='single', class_names='sample_scenes'), "
                         "test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))", 'naclip.py')
    model = maskclip.init_model(config, clip_weights=scene['weights'])
    by_path = maskclip.inference_model(model, scene['path'])
    labels = by_path.pred_sem_seg.data[0].numpy()
    assert labels.shape == scene['image'].shape[:2]  # resized to 48 inside, back to 60 x 70
    assert np.array_equal(labels, tool_labels(config, scene, tmp_path))
    by_array, = maskclip.inference_model(model, [scene['image']])
    assert by_array.pred_sem_seg.data.equal(by_path.pred_sem_seg.data)
    chw = torch.from_numpy(scene['image']).permute(2, 0, 1)  # torchvision's layout
    assert maskclip.inference_model(model, chw).pred_sem_seg.data.equal(by_path.pred_sem_seg.data)
    with pytest.raises(ValueError, match='got dtype float32'):
        maskclip.inference_model(model, chw.float() / 255)
    other = maskclip.init_model(config, clip_weights=scene['weights'], classes=['sky', 'sea'])
    assert other.class_names == ('sky', 'sea')
    assert maskclip.inference_model(other, scene['image']).pred_sem_seg.data.max() <= 1


def test_maskclip_plus_checkpoint_in_three_lines(scene, tmp_path):
    model_cfg = (f"dict(teacher=dict(clip=dict(model_name='{TINY_VIT}'), decode_head=dict("
                 "templates='single', class_names='sample_scenes')), "
                 "text_classifier=dict(templates='single', class_names='sample_scenes'), "
                 "backbone=dict(depth=18, init_cfg=None), "
                 "decode_head=dict(channels=32, in_channels=512))")
    config = tiny_config(scene, PLUS, model_cfg, 'plus.py')
    with pytest.raises(ValueError, match='learns weights: give the checkpoint'):
        maskclip.init_model(config, clip_weights=scene['weights'])
    # a "trained" model: built, its head perturbed, saved as training saves it
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    cfg = Config.fromfile(config)
    cfg.model.teacher.clip.pretrained = scene['weights']
    with DefaultScope.overwrite_default_scope('mmseg'):
        student = MODELS.build(maskclip.inference.inference_cfg(cfg.model))
    for parameter in student.decode_head.parameters():
        parameter.data.normal_()  # not an initial state: the load must bring these back
    checkpoint = tmp_path / 'iter_1.pth'
    torch.save(dict(state_dict=student.state_dict(), meta=dict()), checkpoint)

    # the three lines a user writes
    model = maskclip.init_model(config, str(checkpoint), clip_weights=scene['weights'])
    result = maskclip.inference_model(model, scene['path'])
    labels = result.pred_sem_seg.data[0]

    for name, value in student.decode_head.state_dict().items():
        assert model.decode_head.state_dict()[name].equal(value), name
    assert np.array_equal(labels.numpy(),
                          tool_labels(config, scene, tmp_path, str(checkpoint)))


def test_init_model_errors(scene, tmp_path):
    """The API refuses what the tools refuse, with the same messages."""
    sample = osp.join(ROOT, 'configs', 'maskclip', 'maskclip_vit-b16_sample-scenes-448x448.py')
    for classes, message in (([], 'holds no class names'), (['cat', 'cat'], "'cat' appears"),
                             (['cat', ''], 'empty name')):
        with pytest.raises(ValueError, match=message):
            maskclip.init_model(sample, classes=classes, clip_weights='random')
    with pytest.raises(ClipWeightsError, match='CLIP weight file not found'):
        maskclip.init_model(sample, clip_weights=str(tmp_path / 'nope.pt'))
    (tmp_path / 'corrupt.pt').write_bytes(b'not weights' * 10)
    with pytest.raises(ClipWeightsError, match='Could not read CLIP weights'):
        maskclip.init_model(sample, clip_weights=str(tmp_path / 'corrupt.pt'))
    for key, value, message in (('model.backbone.mode', 'nope', "Unknown mode 'nope'"),
                                ('model.clip.model_name', 'ViT-Q', "Unknown CLIP model name")):
        cfg = Config.fromfile(sample)
        cfg.merge_from_dict({key: value})
        with pytest.raises(ValueError, match=message):
            maskclip.init_model(cfg, clip_weights='random')
    with pytest.raises(ValueError, match='does not exist'):
        maskclip.init_model(str(tmp_path / 'nope.py'))
    with pytest.raises(ValueError, match='checkpoint .* does not exist'):
        maskclip.init_model(PLUS, str(tmp_path / 'nope.pth'))
    with pytest.raises(ValueError, match='Image not found'):
        maskclip.inference_model(torch.nn.Module(), str(tmp_path / 'nope.png'))
    from maskclip.engine.test_runner import test_options
    assert test_options('a.py', out='o').out == 'o' and test_options('a.py').launcher == 'none'
    with pytest.raises(TypeError, match="Unknown test options \\['outdir'\\]"):
        test_options('a.py', outdir='o')


def test_set_vocabulary_equals_building_with_those_classes(scene):
    """MaskCLIP (any head options) and MaskCLIP+ (its text-classified student and teacher)
    change classes after build exactly as if built with them; ReCLIP refuses other classes."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS
    from mmseg.structures import SegDataSample

    def build(cfg):
        with DefaultScope.overwrite_default_scope('mmseg'):
            return MODELS.build(cfg).eval()

    inputs = torch.randn(1, 3, 48, 64)
    meta = dict(img_shape=(48, 64), ori_shape=(40, 50), pad_shape=(48, 64),
                padding_size=[0, 0, 0, 0])
    head = dict(type='MaskClipHead', templates='single', softmax_over='names', logit_scale=30.0,
                bg_words='stuff', bg_threshold=0.2)
    cfg = dict(type='MaskClipSegmentor', clip=dict(model_name=TINY_VIT, pretrained=None),
               backbone=dict(type='MaskClipViT'),
               test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)))
    other = ['background', 'sky, air', 'sea', 'sand']
    changed = build(dict(cfg, decode_head=dict(head, class_names='voc21')))
    changed.set_vocabulary(other)
    direct = build(dict(cfg, decode_head=dict(head, class_names=other)))
    assert changed.class_names == direct.class_names == ('background', 'sky', 'sea', 'sand')
    assert changed.out_channels == direct.out_channels > 4  # one channel per name
    with torch.no_grad():
        a = changed.predict(inputs, [SegDataSample(metainfo=meta)])[0]
        b = direct.predict(inputs, [SegDataSample(metainfo=meta)])[0]
    assert a.seg_logits.data.equal(b.seg_logits.data)

    plus_cfg = Config.fromfile(PLUS).model
    plus_cfg.teacher.clip.update(model_name=TINY_VIT, pretrained=None)
    plus_cfg.text_classifier.templates = plus_cfg.teacher.decode_head.templates = 'single'
    plus_cfg.decode_head.update(channels=32, in_channels=512)
    plus_cfg.backbone.update(init_cfg=None, depth=18)
    plus = build(plus_cfg)
    plus_cfg.text_classifier.class_names = plus_cfg.teacher.decode_head.class_names = other
    plus_direct = build(plus_cfg)
    plus_direct.load_state_dict(plus.state_dict())  # the same trained student
    plus.set_vocabulary(other)
    assert plus.class_names == plus_direct.class_names and plus.out_channels == 4
    meta = dict(meta, ori_shape=(48, 64))
    with torch.no_grad():
        a = plus.predict(inputs, [SegDataSample(metainfo=meta)])[0]
        b = plus_direct.predict(inputs, [SegDataSample(metainfo=meta)])[0]
        assert a.seg_logits.data.equal(b.seg_logits.data)
        assert plus.teacher_logits(inputs).equal(plus_direct.teacher_logits(inputs))

    rectify = Config.fromfile(osp.join(
        ROOT, 'configs', 'reclip', 'reclip-rectification_vit-b16_1xb1-50e_voc12-20-336x336.py'))
    model_cfg = rectify.model
    for clip in [model_cfg.get('clip')] if model_cfg.get('clip') else []:
        clip.update(model_name=TINY_VIT, pretrained=None)
    model_cfg.decode_head.update(templates='single')
    if 'existence_cache' in model_cfg.decode_head:
        model_cfg.decode_head.existence_cache = None
    reclip_model = build(model_cfg)
    reclip_model.set_vocabulary('voc20')  # its own classes: fine
    with pytest.raises(ValueError, match='one positional-bias map per class'):
        reclip_model.set_vocabulary(other)
