"""The training-free protocol: head options (logit scale, background by threshold, stuff words),
slide inference by hand, COCO-Object (dataset, class names, converter) and teacher modes."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope
from mmseg.models.utils import resize
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample
from PIL import Image

from maskclip.datasets.coco_object import COCOObjectDataset
from maskclip.models import ClipFeatures, MaskClipHead
from maskclip.models.heads.maskclip_head import NO_PROMPT_LOGIT, STUFF_WORDS
from maskclip.text import load_vocabulary, primary_names

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLIP = dict(model_name=TINY_VIT, pretrained=None)
CLASSES = ['background', 'cat', 'dog', 'bird']


def head(**kwargs):
    return MaskClipHead(**dict(dict(class_names=CLASSES, clip=CLIP, templates='single'), **kwargs))


def features(b=1, h=4, w=5):
    return ClipFeatures(dense=torch.randn(b, 32, h, w), keys=torch.randn(b, 64, h, w),
                        global_embedding=torch.randn(b, 32), pos_embed=torch.randn(1, 64, h, w))


def segmentor(**kwargs):
    cfg = dict(type='MaskClipSegmentor', clip=CLIP, backbone=dict(type='MaskClipViT'),
               decode_head=dict(type='MaskClipHead', class_names=CLASSES, templates='single'))
    cfg.update(kwargs)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg).eval()


# ------------------------------------------------------------------------------- head options

def test_defaults_unchanged_and_logit_scale_multiplies():
    feats = features()
    plain = head()
    assert plain.logit_scale == 1.0 and plain.bg_threshold is None and plain.bg_prompt
    assert plain(feats).equal(plain.conv_seg(feats.dense))  # the cosine logits, untouched
    torch.testing.assert_close(head(logit_scale=40.0)(feats), 40 * plain(feats))
    for options in (dict(prompt_denoising=True, pd_threshold=0.3), dict(key_smoothing=True)):
        # PD / KS keep the authors' softmax(100 * cosine); the scale multiplies their output
        torch.testing.assert_close(head(logit_scale=40.0, **options)(feats),
                                   40 * head(**options)(feats))
    with pytest.raises(ValueError, match=r'logit_scale must be a number in \(0, inf\]'):
        head(logit_scale=0)


def test_background_without_prompt_by_threshold():
    h = head(bg_threshold=0.5, bg_words=[], logit_scale=10.0)
    assert h.class_names == tuple(CLASSES) and h.num_classes == h.out_channels == 4
    assert h.conv_seg.class_names == ('cat', 'dog', 'bird')  # no text prompt for background
    feats = features()
    out = h(feats)
    assert out.shape == (1, 4, 4, 5)
    assert (out[:, 0] == NO_PROMPT_LOGIT).all()
    torch.testing.assert_close(out[:, 1:], 10 * head(class_names=CLASSES[1:])(feats))
    fg = torch.tensor([[3., 0., 0.], [0.1, 0., 0.], [0., 0., 1.]]).T  # (3 classes, 3 pixels)
    logits = torch.cat([torch.full((1, 3), NO_PROMPT_LOGIT), fg])[None, :, None]  # (1, 4, 1, 3)
    probs = h.label_scores(logits)
    fg_probs = fg.softmax(0)  # max: 0.91 (cat), 0.35 (< 0.5: background), 0.58 (bird)
    assert probs.argmax(1).flatten().tolist() == [1, 0, 3]
    torch.testing.assert_close(probs[0, 1:, 0], fg_probs)
    assert probs[0, 0, 0].tolist() == [0., 1., 0.]


def test_background_with_a_prompt_and_threshold():
    h = head(bg_threshold=0.3)
    assert h.bg_prompt and h.conv_seg.class_names == tuple(CLASSES)
    logits = torch.tensor([[2., 1.5, 0., 0.], [0., .2, 0., 0.], [0., 3., 0., 0.]]).T[None, :, None]
    all_probs = logits.softmax(1)  # best foreground: 0.32, 0.29 (< 0.3), 0.87
    probs = h.label_scores(logits)
    # background by its prompt (0.53 > 0.32), background by the threshold, cat
    assert probs.argmax(1).flatten().tolist() == [0, 0, 1]
    torch.testing.assert_close(probs[:, 1:], all_probs[:, 1:])
    p0 = all_probs[0, 0, 0]
    torch.testing.assert_close(probs[0, 0, 0], torch.stack([p0[0], torch.tensor(1.), p0[2]]))
    assert head().label_scores(logits) is logits  # no threshold: unchanged


def test_background_as_stuff_words():
    h = head(class_names='coco_object', bg_words='stuff', bg_threshold=0.1)
    assert len(h.class_names) == h.num_classes == 81 and h.class_names[0] == 'background'
    words = h.conv_seg.vocabulary[0]
    assert 'bed' in STUFF_WORDS and 'bed' not in words  # 'bed' is a COCO class
    assert words == tuple(w for w in STUFF_WORDS if w != 'bed')
    assert head(bg_words=['sky', 'wall']).conv_seg.vocabulary[0] == ('sky', 'wall')
    with pytest.raises(ValueError, match="class 0 to be named 'background'"):
        head(class_names=CLASSES[1:], bg_words='stuff')
    with pytest.raises(ValueError, match='set bg_threshold'):
        head(bg_words=[])
    with pytest.raises(ValueError, match=r'bg_threshold must be a number in \(0, 1\]'):
        head(bg_threshold=1.5)


def test_segmentor_thresholds_background_at_the_original_size():
    seg = segmentor(decode_head=dict(type='MaskClipHead', class_names=CLASSES, templates='single',
                                     logit_scale=40.0))
    inputs = torch.randn(1, 3, 64, 64)
    sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(40, 50),
                                         pad_shape=(64, 64), padding_size=[0, 0, 0, 0]))
    with torch.no_grad():
        logits = resize(seg.inference(inputs, [dict(sample.metainfo)]), size=(40, 50),
                        mode='bilinear', align_corners=False)
        best_fg = logits.softmax(1)[:, 1:].amax(1)
        seg.decode_head.bg_threshold = float(best_fg.median())
        pred = seg.predict(inputs, [sample])[0]
    expected = seg.decode_head.label_scores(logits)
    torch.testing.assert_close(pred.seg_logits.data, expected[0])
    assert pred.pred_sem_seg.data.equal(expected.argmax(1))
    below = best_fg < seg.decode_head.bg_threshold
    assert below.any() and (~below).any()
    assert (pred.pred_sem_seg.data[below] == 0).all()


# ----------------------------------------------------------------------------- slide inference

def test_slide_inference_equals_three_windows_stitched_by_hand():
    """448 wide, 224 high, windows 224 / stride 112: x = 0, 112, 224 (3 windows), one row."""
    seg = segmentor(test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
    inputs = torch.randn(1, 3, 224, 448)
    metas = [dict(img_shape=(224, 448), ori_shape=(224, 448), pad_shape=(224, 448))]
    calls = []
    encode_decode = seg.encode_decode

    def counting(crop, batch_img_metas):
        calls.append(tuple(crop.shape))
        return encode_decode(crop, batch_img_metas)

    with torch.no_grad():
        window_meta = [dict(img_shape=(224, 224), pad_shape=(224, 224))]  # logits at window size
        windows = {x: seg.encode_decode(inputs[..., x:x + 224], window_meta)
                   for x in (0, 112, 224)}
        seg.encode_decode = counting
        seg.test_cfg['window_batch_size'] = 1  # the authors' loop: one window per pass
        one_by_one = seg.inference(inputs, [dict(metas[0])])
        assert calls == [(1, 3, 224, 224)] * 3
        calls.clear()
        del seg.test_cfg['window_batch_size']  # the default: the three windows in one pass
        slid = seg.inference(inputs, [dict(metas[0])])
    assert calls == [(3, 3, 224, 224)]
    torch.testing.assert_close(slid, one_by_one, atol=1e-5, rtol=0)
    total = torch.zeros(1, 4, 224, 448)
    count = torch.zeros(1, 1, 224, 448)
    for x, logits in windows.items():
        total[..., x:x + 224] += logits
        count[..., x:x + 224] += 1
    assert count[0, 0, 0].tolist() == [1] * 112 + [2] * 224 + [1] * 112
    torch.testing.assert_close(slid, total / count)
    torch.testing.assert_close(slid[..., :112], windows[0][..., :112])  # one window there
    torch.testing.assert_close(slid[..., 112:224], (windows[0][..., 112:] + windows[112][..., :112])
                               / 2)


# ---------------------------------------------------------------------------------- COCO-Object

def test_coco_object_dataset_and_class_names():
    classes = COCOObjectDataset.METAINFO['classes']
    assert len(classes) == 81 and classes[0] == 'background'
    assert classes[1] == 'person' and classes[80] == 'toothbrush'
    assert len(COCOObjectDataset.METAINFO['palette']) == 81
    names = primary_names(load_vocabulary('coco_object'))
    assert len(names) == 81 and names[0] == 'background'
    # the text names follow the label order (COCO's spelling may differ: 'hair dryer')
    assert sum(a != b for a, b in zip(names, classes)) <= 1


# COCO's 80 thing category ids (1-90 without the ten unused ones), in COCO-Object's label order
THING_IDS = tuple(i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))


def convert_coco_object(*args, env=None):
    """``python tools/dataset_converters/coco_object.py ARGS``; the finished process."""
    return subprocess.run([sys.executable, 'tools/dataset_converters/coco_object.py',
                           *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def uncompressed_rle(mask):
    """COCO's uncompressed RLE (column-major run lengths, starting with zeros)."""
    flat = np.asarray(mask, np.uint8).flatten(order='F')
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel == value:
            run += 1
        else:
            counts.append(run)
            value, run = pixel, 1
    counts.append(run)
    return dict(size=list(mask.shape), counts=counts)


def test_coco_object_converter_on_a_fake_coco(tmp_path):
    mask_api = pytest.importorskip('pycocotools.mask')
    classes = COCOObjectDataset.METAINFO['classes']
    categories = [dict(id=i, name=classes[k]) for k, i in enumerate(THING_IDS, 1)]
    dog, car, person = (categories[classes.index(n) - 1]['id'] for n in ('dog', 'car', 'person'))
    assert (dog, car, person) == (18, 3, 1)
    h, w = 12, 16
    big = [[1.0, 1.0, 12.0, 1.0, 12.0, 9.0, 1.0, 9.0]]  # person polygon, the largest instance
    small = np.zeros((h, w), np.uint8)
    small[4:8, 6:10] = 1  # dog, inside the person: drawn over it
    crowd = np.zeros((h, w), np.uint8)
    crowd[9:12, 0:5] = 1  # car crowd (uncompressed RLE)
    later = np.zeros((h, w), np.uint8)
    later[0:3, 13:16] = 1  # two cars of the same area at the same place: the later one wins
    compressed = mask_api.encode(np.asfortranarray(later))
    compressed['counts'] = compressed['counts'].decode('ascii')
    coco = dict(
        images=[dict(id=7, file_name='000000000007.jpg', height=h, width=w),
                dict(id=9, file_name='000000000009.jpg', height=6, width=5)],
        annotations=[
            dict(id=1, image_id=7, category_id=dog, segmentation=uncompressed_rle(small),
                 area=16.0, iscrowd=0),
            dict(id=2, image_id=7, category_id=person, segmentation=big, area=88.0, iscrowd=0),
            dict(id=3, image_id=7, category_id=car, segmentation=uncompressed_rle(crowd),
                 area=15.0, iscrowd=1),
            dict(id=4, image_id=7, category_id=dog, segmentation=uncompressed_rle(later),
                 area=9.0, iscrowd=0),
            dict(id=5, image_id=7, category_id=car, segmentation=compressed, area=9.0, iscrowd=0),
        ],
        categories=categories)
    ann_dir = tmp_path / 'coco' / 'annotations'
    ann_dir.mkdir(parents=True)
    (ann_dir / 'instances_val2017.json').write_text(json.dumps(coco))
    out = tmp_path / 'out'
    result = convert_coco_object(tmp_path / 'coco', '-o', out)
    assert result.returncode == 0, result.stderr[-2000:]
    labels = out / 'annotations' / 'val2017'
    label = np.array(Image.open(labels / '000000000007_instanceTrainIds.png'))
    person_mask = mask_api.decode(mask_api.merge(mask_api.frPyObjects(big, h, w))).astype(bool)
    expected = np.zeros((h, w), np.uint8)
    expected[person_mask] = classes.index('person')
    expected[small == 1] = classes.index('dog')
    expected[crowd == 1] = classes.index('car')
    expected[later == 1] = classes.index('car')
    assert person_mask[2:8, 2:11].all()
    assert np.array_equal(label, expected)
    empty = np.array(Image.open(labels / '000000000009_instanceTrainIds.png'))
    assert empty.shape == (6, 5) and not empty.any()
    # the base dataset config reads them next to the images
    images = out / 'images' / 'val2017'
    images.mkdir(parents=True)
    for name, size in (('000000000007', (w, h)), ('000000000009', (5, 6))):
        Image.new('RGB', size).save(images / f'{name}.jpg')
    cfg = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets', 'coco_object.py'))
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=str(out), pipeline=[dict(type='LoadImageFromFile'),
                                                     dict(type='LoadAnnotations')])
    init_default_scope('mmseg')
    dataset = DATASETS.build(dataset_cfg)
    assert len(dataset) == 2
    assert np.array_equal(dataset[0]['gt_seg_map'], expected)


def test_coco_object_converter_errors(tmp_path):
    result = convert_coco_object(tmp_path)
    assert result.returncode == 2 and 'instances_val2017.json' in result.stderr
    (tmp_path / 'instances_val2017.json').write_text(json.dumps(
        dict(images=[], annotations=[], categories=[dict(id=1, name='person')])))
    result = convert_coco_object(tmp_path)
    assert result.returncode == 2 and '80 COCO thing categories' in result.stderr
    # as if pycocotools were not installed: a package of that name that fails to import
    fake = tmp_path / 'fake_site' / 'pycocotools'
    fake.mkdir(parents=True)
    (fake / '__init__.py').write_text("raise ImportError('simulated: no pycocotools')\n")
    categories = [dict(id=i, name=f'class {i}') for i in THING_IDS]
    (tmp_path / 'instances_val2017.json').write_text(json.dumps(
        dict(images=[], annotations=[], categories=categories)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(tmp_path / 'fake_site'), os.environ.get('PYTHONPATH', '')]))
    result = convert_coco_object(tmp_path, '-o', tmp_path / 'out', env=env)
    assert result.returncode == 2 and 'pip install pycocotools' in result.stderr
    assert 'Traceback' not in result.stderr


# ----------------------------------------------------------------------------- teacher modes

def tiny(cfg_clip):
    cfg_clip.update(model_name=TINY_VIT, pretrained=None)


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def test_maskclip_plus_teacher_takes_any_mode():
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'maskclip_plus',
        'maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')).model
    assert cfg.teacher.backbone.mode == 'maskclip'
    tiny(cfg.teacher.clip)
    cfg.text_classifier.templates = cfg.teacher.decode_head.templates = 'single'
    cfg.decode_head.channels = 32
    cfg.backbone.update(init_cfg=None, depth=18)
    cfg.decode_head.in_channels = 512
    cfg.teacher.backbone.mode = 'baseline'
    model = build(cfg)
    assert model.teacher.backbone.mode == 'baseline'
    cfg.teacher.backbone.mode = 'no-such-mode'
    with pytest.raises(ValueError, match="Unknown mode 'no-such-mode'"):
        build(cfg)


def test_reclip_rectification_and_distillation_teacher_take_any_mode():
    rect = Config.fromfile(osp.join(
        ROOT, 'configs', 'reclip', 'reclip-rectification_vit-b16_1xb1-50e_voc12-20-336x336.py'))
    tiny(rect.model.clip)
    rect.model.decode_head.templates = 'single'
    rect.model.backbone.mode = 'baseline'
    assert build(rect.model).backbone.mode == 'baseline'
    distill = Config.fromfile(osp.join(
        ROOT, 'configs', 'reclip',
        'reclip-distillation_vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')).model
    tiny(distill.teacher.clip)
    distill.teacher.decode_head.templates = 'single'
    distill.teacher.backbone.mode = 'baseline'
    distill.decode_head.update(channels=32, in_channels=512)
    distill.backbone.update(init_cfg=None, depth=18)
    assert build(distill).teacher.backbone.mode == 'baseline'


def test_protocol_configs_cover_the_eight_benchmarks():
    names = sorted(os.listdir(osp.join(ROOT, 'configs', 'protocol')))
    configs = [n for n in names if n.endswith('.py')]
    assert len(configs) == 8
    for key in ('voc21', 'context60', 'coco-object', 'voc20', 'context59', 'coco-stuff',
                'cityscapes', 'ade20k'):
        assert sum(n.startswith(f'training-free_vit-b16_{key}-') for n in configs) == 1
