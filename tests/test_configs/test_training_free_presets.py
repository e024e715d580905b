"""Each training-free method with its own released settings (configs/{sclip,clearclip,naclip}):
their probability rule, SCLIP's area threshold, PAMR at the original size, the DINO-style
positional-embedding resize, the presets' values, the field's class files, and the Python API
against tools/test.py."""
import glob
import math
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from PIL import Image

import maskclip
from maskclip.models.backbones.base import resize_pos_embed
from maskclip.models.heads.maskclip_head import STUFF_WORDS
from maskclip.models.pamr import PAMR
from maskclip.text import load_vocabulary

from ..conftest import TINY_VIT, save_clip_weights
from ..test_models.test_pamr import direct_pamr

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLIP = dict(model_name=TINY_VIT, pretrained=None)


def build(cfg):
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg).eval()


def head(classes, **options):
    return build(dict(type='MaskClipHead', class_names=classes, clip=CLIP, templates='single',
                      **options))


# ----------------------------------------------------------- the rule: softmax over all names

# background as three stuff words, 'person' with a synonym, 'cat'
NAMED = [['sky', 'wall', 'tree'], ['person', 'person in shirt'], ['cat']]
NAME_TO_CLASS = [0, 0, 0, 1, 1, 2]


def direct_names_rule(scores, threshold=None):
    """Their postprocess written out per pixel: softmax over the 6 names, max per class,
    argmax, and 0 where the best class probability is below the threshold."""
    labels = torch.zeros(scores.shape[-2:], dtype=torch.long)
    for y in range(scores.shape[-2]):
        for x in range(scores.shape[-1]):
            exps = [math.exp(float(s)) for s in scores[:, y, x]]
            q = [e / sum(exps) for e in exps]
            p = [max(q[n] for n in range(6) if NAME_TO_CLASS[n] == c) for c in range(3)]
            best = max(range(3), key=lambda c: (p[c], -c))  # first index on ties, as argmax
            labels[y, x] = 0 if threshold is not None and p[best] < threshold else best
    return labels


def test_softmax_over_names_equals_the_direct_rule_and_differs_from_per_class():
    names = head(NAMED, softmax_over='names', bg_threshold=0.3)
    per_class = head(NAMED, softmax_over='classes', bg_threshold=0.3)
    assert names.out_channels == 6 and names.num_classes == 3
    assert names.score_to_class.tolist() == NAME_TO_CLASS
    # pixel 0: three background words at 2.0 share the mass, 'person' at 2.1 wins the argmax
    # with q = 0.27 < 0.3 (background), while per class it has 0.52 (person)
    scores = torch.tensor([[2.0, 2.0, 2.0, 2.1, -5.0, -5.0],   # disagree
                           [0.0, 0.1, 0.0, 3.0, 3.5, 0.0],     # person by its synonym
                           [0.0, 0.0, 0.0, 0.0, 0.0, 4.0],     # cat
                           [1.0, 0.5, 0.2, 0.3, 0.1, 0.9]]).T[None, :, None]  # (1, 6, 1, 4)
    expected = direct_names_rule(scores[0], threshold=0.3)
    labels = names.label_scores(scores).argmax(1)[0]
    assert labels.equal(expected)
    assert expected[0, :3].tolist() == [0, 1, 2]
    class_scores = torch.stack([scores[:, :3].amax(1), scores[:, 3:5].amax(1), scores[:, 5]], 1)
    per_class_labels = per_class.label_scores(class_scores).argmax(1)[0]
    assert per_class_labels[0, 0] == 1 and labels[0, 0] == 0  # the rules disagree here
    # without a threshold the names rule is the argmax of the best name's class
    free = head(NAMED, softmax_over='names')
    q = scores[0, :, 0].softmax(0)  # (6, 4)
    torch.testing.assert_close(free.label_scores(scores)[0, :, 0],
                               torch.stack([q[:3].amax(0), q[3:5].amax(0), q[5]]))
    with pytest.raises(ValueError, match="softmax_over='classes'"):
        head(NAMED, softmax_over='names', key_smoothing=True)
    with pytest.raises(ValueError, match='softmax_over must be one of'):
        head(NAMED, softmax_over='words')


def test_names_rule_through_the_segmentor_with_windows():
    """Per-name scores are window-averaged and resized before the softmax over names."""
    seg = build(dict(type='MaskClipSegmentor', clip=CLIP, backbone=dict(type='MaskClipViT'),
                     decode_head=dict(type='MaskClipHead', class_names=NAMED, templates='single',
                                      logit_scale=30.0, softmax_over='names'),
                     test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16))))
    inputs = torch.randn(1, 3, 48, 64)
    sample = SegDataSample(metainfo=dict(img_shape=(48, 64), ori_shape=(36, 50),
                                         pad_shape=(48, 64), padding_size=[0, 0, 0, 0]))
    with torch.no_grad():
        scores = seg.inference(inputs, [dict(sample.metainfo)])
        pred = seg.predict(inputs, [sample])[0]
    assert scores.shape[1] == 6  # one channel per name through the windows
    full = resize(scores, size=(36, 50), mode='bilinear', align_corners=False)[0]
    q = full.softmax(0)
    expected = torch.stack([q[:3].amax(0), q[3:5].amax(0), q[5]])
    torch.testing.assert_close(pred.seg_logits.data, expected)
    assert pred.pred_sem_seg.data[0].equal(expected.argmax(0))


# ------------------------------------------------------------------------- SCLIP's area_thd

def direct_area_rule(probs, area, threshold):
    """SCLIP's postprocess (clip_segmentor.py:155-164) transcribed with Python counts."""
    k = probs.shape[0]
    labels = probs.argmax(0)
    counts = [int((labels == c).sum()) for c in range(k)]
    total = sum(counts[1:])
    probs = probs.clone()
    for c in range(1, k):
        if not counts[c] > area * total:
            probs[c] = 0
    out = probs.argmax(0)
    out[probs.max(0).values < threshold] = 0
    return out


def test_area_threshold_equals_sclip_rule():
    torch.manual_seed(0)
    logits = torch.randn(1, 4, 20, 20)
    logits[0, 3] -= 3.0
    logits[0, 3, :2, :3] += 8.0  # class 3 wins 6 of ~300 foreground pixels: removed at 0.1
    h = head(['background', 'cat', 'dog', 'bird'], bg_threshold=0.35, area_threshold=0.1)
    labels = h.label_scores(logits).argmax(1)[0]
    probs = logits[0].softmax(0)
    assert labels.equal(direct_area_rule(probs, 0.1, 0.35))
    before = probs.argmax(0)
    assert (before == 3).sum() == 6 and not (labels == 3).any()  # dropped
    assert (labels == 1).any() and (labels == 2).any() and (labels == 0).any()
    kept = head(['background', 'cat', 'dog', 'bird'], bg_threshold=0.35, area_threshold=0.01)
    assert (kept.label_scores(logits).argmax(1)[0] == 3).sum() > 0  # 6 > 1% of the foreground
    with pytest.raises(ValueError, match='area_threshold'):
        head(['background', 'cat'], area_threshold=1.5)


# ------------------------------------------------------------------------------------ PAMR

def test_pamr_with_their_dilations_equals_the_loops():
    image, masks = torch.rand(1, 3, 18, 20) * 255, torch.randn(1, 2, 18, 20)
    pamr = PAMR(iterations=10, dilations=(8, 16))
    torch.testing.assert_close(pamr(image, masks), direct_pamr(image, masks, 10, (8, 16)),
                               atol=1e-5, rtol=1e-4)


def test_pamr_at_the_original_resolution():
    """resolution='original': the scores resized to the original size first, the input image
    resized bilinearly to it, then PAMR (their order), then the label rule."""
    base = dict(type='MaskClipSegmentor', clip=CLIP, backbone=dict(type='MaskClipViT'),
                decode_head=dict(type='MaskClipHead', class_names=['sky', 'sea', 'sand'],
                                 templates='single', logit_scale=40.0),
                test_cfg=dict(mode='whole'))
    plain = build(base)
    refined = build(dict(base, pamr=dict(iterations=10, dilations=(8, 16),
                                         resolution='original')))
    inputs = torch.randn(1, 3, 48, 64)
    meta = dict(img_shape=(48, 64), ori_shape=(30, 41), pad_shape=(48, 64),
                padding_size=[0, 0, 0, 0])
    with torch.no_grad():
        scores = plain.inference(inputs, [meta])
        pred = refined.predict(inputs, [SegDataSample(metainfo=meta)])[0]
        untouched = refined.inference(inputs, [meta])
    torch.testing.assert_close(untouched, scores)  # nothing happens at the input size
    full = resize(scores, size=(30, 41), mode='bilinear', align_corners=False)
    image = F.interpolate(inputs, size=(30, 41), mode='bilinear', align_corners=False)
    expected = direct_pamr(image, full, 10, (8, 16))[0]
    torch.testing.assert_close(pred.seg_logits.data, expected, atol=1e-4, rtol=1e-4)
    assert pred.pred_sem_seg.data[0].equal(pred.seg_logits.data.argmax(0))
    with pytest.raises(ValueError, match='resolution'):
        build(dict(base, pamr=dict(iterations=1, resolution='output')))


# ------------------------------------------------------------- positional embeddings (DINO)

def cubic(t, a=-0.75):
    t = abs(t)
    if t <= 1:
        return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
    return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a if t < 2 else 0.0


def bicubic_by_hand(grid, size, scales):
    """Bicubic resampling with source coordinates (dst + 0.5) / scale - 0.5, borders clamped."""
    h0, w0 = grid.shape[-2:]
    out = torch.zeros(grid.shape[1], *size, dtype=torch.float64)
    for y in range(size[0]):
        sy = (y + 0.5) / scales[0] - 0.5
        for x in range(size[1]):
            sx = (x + 0.5) / scales[1] - 0.5
            value = 0
            for j in range(math.floor(sy) - 1, math.floor(sy) + 3):
                for i in range(math.floor(sx) - 1, math.floor(sx) + 3):
                    weight = cubic(sy - j) * cubic(sx - i)
                    value = value + weight * grid[0, :, min(max(j, 0), h0 - 1),
                                                  min(max(i, 0), w0 - 1)].double()
            out[:, y, x] = value
    return out


def test_scale_factor_pos_embed_resize_is_their_dino_resize():
    grid = torch.randn(1, 3, 14, 14)
    out = resize_pos_embed(grid, (9, 21), 'scale_factor')
    expected = bicubic_by_hand(grid, (9, 21), ((9 + 0.1) / 14, (21 + 0.1) / 14))
    torch.testing.assert_close(out[0].double(), expected, atol=1e-5, rtol=1e-5)
    exact = resize_pos_embed(grid, (9, 21))
    torch.testing.assert_close(exact[0].double(), bicubic_by_hand(grid, (9, 21), (9 / 14, 21 / 14)),
                               atol=1e-5, rtol=1e-5)
    assert (out - exact).abs().max() > 1e-3  # a real difference, not a rename
    assert resize_pos_embed(grid, (14, 14), 'scale_factor') is grid  # native grid: unchanged
    with pytest.raises(ValueError, match='pos_embed_resize'):
        resize_pos_embed(grid, (9, 9), 'nearest')


# ------------------------------------------------------------------ the presets, as released

# from their configs/cfg_*.py and segmentor defaults (wangf3014/SCLIP@b56bd30,
# mc-lan/ClearCLIP@ad68a40, sinahmr/NACLIP@0cac3a6):
# benchmark: (short side, crop, stride (None: whole image), logit scale, prob_thd, area_thd)
RELEASED = {
    'sclip': {
        'voc21': (336, 224, 112, 65, 0.1, 0.1), 'context60': (336, 224, 112, 50, 0.1, None),
        'coco-object': (336, 224, 112, 50, 0.1, None), 'voc20': (336, 224, 112, 40, None, None),
        'context59': (336, 224, 112, 40, None, None),
        'coco-stuff': (448, 224, 112, 40, None, None),
        'cityscapes': (560, 224, 112, 40, None, None), 'ade20k': (336, 224, 112, 40, None, None)},
    'clearclip': {
        'voc21': (448, 448, 224, 50, 0.5, None), 'context60': (448, 448, 224, 50, 0.15, None),
        'coco-object': (448, 448, 224, 50, 0.4, None), 'voc20': (448, 448, 224, 50, None, None),
        'context59': (448, 448, 224, 50, None, None),
        'coco-stuff': (448, 448, 224, 50, None, None),
        'cityscapes': (448, 224, 224, 50, None, None), 'ade20k': (448, 448, 224, 50, None, None)},
    'naclip': {
        'voc21': (336, None, None, 40, 0.1, None), 'context60': (336, 224, 112, 40, 0.1, None),
        'coco-object': (336, 224, 112, 40, 0.1, None), 'voc20': (336, None, None, 40, None, None),
        'context59': (336, 224, 112, 40, None, None),
        'coco-stuff': (336, 224, 112, 40, None, None),
        'cityscapes': (560, 224, 112, 40, None, None), 'ade20k': (336, 224, 112, 40, None, None)},
}
VOCABULARY = {'voc21': 'voc21', 'context60': 'pascal_context_60', 'coco-object': 'coco_object',
              'voc20': 'voc20', 'context59': 'pascal_context_59', 'coco-stuff': 'coco_stuff_171',
              'cityscapes': 'cityscapes_19', 'ade20k': 'ade20k_150'}
CLASS_FILES = {'sclip': 'sclip', 'clearclip': 'clearclip', 'naclip': 'sclip'}


def preset_paths(method, pamr=False):
    prefix = f'{method}-pamr' if pamr else method
    return {osp.basename(p).split('_')[2].rsplit('-', 2)[0]: p for p in sorted(
        glob.glob(osp.join(ROOT, 'configs', method, f'{prefix}_vit-b16_*.py')))}


@pytest.mark.parametrize('method', list(RELEASED))
def test_presets_are_their_released_settings(method):
    paths = preset_paths(method)
    assert sorted(paths) == sorted(RELEASED[method])
    for benchmark, (short, crop, stride, scale, thd, area) in RELEASED[method].items():
        cfg = Config.fromfile(paths[benchmark])
        model, head = cfg.model, cfg.model.decode_head
        window = f'slide{crop}' if crop else 'whole'
        assert osp.basename(paths[benchmark]) == \
            f'{method}_vit-b16_{benchmark}-{short}x{short}-{window}.py'
        resize_step = cfg.test_dataloader.dataset.pipeline[1]
        assert resize_step == dict(type='Resize', scale=(2048, short), keep_ratio=True)
        assert cfg.test_dataloader.batch_size == 1
        if crop:
            assert model.test_cfg == dict(mode='slide', crop_size=(crop, crop),
                                          stride=(stride, stride))
        else:
            assert model.test_cfg == dict(mode='whole')
        assert (head.logit_scale, head.bg_threshold, head.area_threshold) == (scale, thd, area)
        assert head.class_names == f'{VOCABULARY[benchmark]}_{CLASS_FILES[method]}'
        assert (head.softmax_over, head.templates) == ('names', 'imagenet')
        assert not head.key_smoothing and not head.prompt_denoising and head.bg_words is None
        assert model.backbone.mode == method and model.backbone.pos_embed_resize == 'scale_factor'
        assert model.clip == dict(model_name='ViT-B-16', pretrained='openai')
        preprocessor = model.data_preprocessor
        assert (preprocessor.mean, preprocessor.std) == ([122.771, 116.746, 104.094],
                                                         [68.501, 66.632, 70.323])
        assert preprocessor.bgr_to_rgb
        assert model.precision == ('fp16' if method == 'clearclip' else 'fp32')
        pamr = model.pamr
        if method == 'clearclip':
            assert pamr is None
        else:
            assert pamr == dict(iterations=0, dilations=(8, 16), resolution='original')
    if method == 'naclip':  # the README's numbers: PAMR on, 10 steps, as the repository default
        with_pamr = preset_paths('naclip', pamr=True)
        assert sorted(with_pamr) == sorted(RELEASED['naclip'])
        for benchmark, path in with_pamr.items():
            cfg = Config.fromfile(path)
            assert cfg.model.pamr == dict(iterations=10, dilations=(8, 16),
                                          resolution='original')
            plain = Config.fromfile(paths[benchmark])
            assert cfg.model.decode_head == plain.model.decode_head
            assert cfg.model.test_cfg == plain.model.test_cfg


def test_the_field_class_files():
    voc21 = load_vocabulary('voc21_sclip')
    assert len(voc21) == 21 and voc21[0] == STUFF_WORDS  # background = the 26 stuff words
    assert voc21[15] == ('person', 'person in shirt', 'person in jeans', 'person in dress',
                         'person in sweater', 'person in skirt', 'person in jacket')
    assert voc21[20] == ('television monitor', 'tv monitor', 'monitor', 'television', 'screen')
    assert (voc21[4], voc21[11], voc21[16]) == (('ship',), ('table',), ('pottedplant',))
    assert load_vocabulary('voc20_sclip')[14][0] == 'person'
    assert len(load_vocabulary('voc20_sclip')) == 20
    coco = load_vocabulary('coco_object_sclip')
    assert len(coco) == 81 and coco[0] == STUFF_WORDS and coco[1][-1] == 'body'
    assert 'bed' in coco[0] and ('bed',) in coco  # shared, as their file
    clear = load_vocabulary('voc21_clearclip')
    assert clear[0] == ('background',) and clear[20] == ('tvmonitor',)
    sizes = {'voc21': 21, 'pascal_context_60': 60, 'coco_object': 81, 'voc20': 20,
             'pascal_context_59': 59, 'coco_stuff_171': 171, 'cityscapes_19': 19,
             'ade20k_150': 150}
    for stem, size in sizes.items():
        for method in ('sclip', 'clearclip'):
            assert len(load_vocabulary(f'{stem}_{method}')) == size
        assert all(len(names) == 1 for names in load_vocabulary(f'{stem}_clearclip'))
    with pytest.raises(ValueError, match="'bed' appears in classes 0 and 1"):
        load_vocabulary([['sky', 'bed'], 'bed'])  # a user's list may not share names


# ------------------------------------------------------------------ the API vs tools/test.py

@pytest.fixture(scope='module')
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp('weights') / 'tiny_vit.pt'
    return save_clip_weights(TINY_VIT, path)


CLASSES = ['background', 'water, sea, lake', 'sand, beach', 'grass, lawn', 'tree, trees',
           'road, street', 'building, house', 'mountain, hill']


def test_api_gives_the_labels_of_tools_test(tmp_path, tiny_weights):
    """bg_words, bg_threshold, area threshold, names softmax, PAMR at the original size and
    sliding windows: create_segmenter(...).predict equals what tools/test.py writes."""
    rng = np.random.default_rng(0)
    image = np.kron(rng.integers(0, 255, (6, 7, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    image = image[:57, :66]  # not a multiple of the windows' stride
    for folder in ('img_dir/val', 'ann_dir/val'):
        (tmp_path / folder).mkdir(parents=True)
    Image.fromarray(image).save(tmp_path / 'img_dir/val/scene.png')
    Image.fromarray(rng.integers(0, 8, image.shape[:2]).astype(np.uint8)).save(
        tmp_path / 'ann_dir/val/scene.png')
    (tmp_path / 'classes.txt').write_text('\n'.join(CLASSES) + '\n')
    options = dict(classes=str(tmp_path / 'classes.txt'), templates='single', mode='sclip',
                   mean=[122.771, 116.746, 104.094], std=[68.501, 66.632, 70.323],
                   pos_embed_resize='scale_factor', logit_scale=65.0, softmax_over='names',
                   bg_words='stuff', area_threshold=0.1,
                   test_cfg=dict(mode='slide', crop_size=(32, 32), stride=(16, 16)),
                   pamr=dict(iterations=3, dilations=(8, 16), resolution='original'))
    probe = maskclip.create_segmenter(TINY_VIT, tiny_weights, **options)
    threshold = float(probe.predict_logits(image)[1:].amax(0).median())  # half the pixels
    segmenter = maskclip.create_segmenter(TINY_VIT, tiny_weights, bg_threshold=threshold,
                                          **options)
    labels = segmenter.predict(image)
    assert labels.shape == image.shape[:2]
    assert 0.2 < (labels == 0).float().mean() < 0.8 and len(labels.unique()) > 2

    config = tmp_path / 'preset.py'
    config.write_text(f'''
_base_ = ['{ROOT}/configs/sclip/sclip_vit-b16_voc21-336x336-slide224.py']
model = dict(
    clip=dict(model_name='{TINY_VIT}'),
    decode_head=dict(class_names='{tmp_path / 'classes.txt'}', templates='single',
                     bg_words='stuff', bg_threshold={threshold!r}),
    pamr=dict(iterations=3),
    test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                 dict(type='PackSegInputs')]
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(
    _delete_=True, type='SampleScenesDataset', data_root='{tmp_path}', img_suffix='.png',
    data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=test_pipeline))
val_dataloader = test_dataloader
''')
    result = subprocess.run(  # the command line a researcher types
        [sys.executable, 'tools/test.py', str(config), '--clip-weights', tiny_weights,
         '--work-dir', str(tmp_path / 'work'), '--out', str(tmp_path / 'out')], cwd=ROOT,
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(tmp_path / 'cache')))
    assert result.returncode == 0, result.stderr[-3000:]
    written = np.array(Image.open(tmp_path / 'out' / 'scene.png'))
    assert np.array_equal(written, labels.numpy())
    # the API used to skip postprocess_result: without the rules the labels differ
    plain = maskclip.create_segmenter(TINY_VIT, tiny_weights, **dict(
        options, softmax_over='classes', area_threshold=None, pamr=None))
    assert not plain.predict(image).equal(labels)


def test_coco_object_keeps_their_113_queries_and_teachers_refuse_name_scores():
    h = head('coco_object_sclip', softmax_over='names')
    assert h.out_channels == 113 and h.num_classes == 81  # 26 + 8 person names + 79 others
    assert h.score_to_class.tolist().count(0) == 26
    bed = h.class_names.index('bed')
    assert h.score_to_class.tolist().count(bed) == 1
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'maskclip_plus',
        'maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')).model
    cfg.teacher.clip.update(CLIP)
    cfg.text_classifier.templates = cfg.teacher.decode_head.templates = 'single'
    cfg.decode_head.update(channels=32, in_channels=512)
    cfg.backbone.update(init_cfg=None, depth=18)
    cfg.teacher.decode_head.softmax_over = 'names'
    with pytest.raises(ValueError, match='teacher needs class scores'):
        build(cfg)


def test_precision_is_cuda_autocast_only():
    cfg = dict(type='MaskClipSegmentor', clip=CLIP, backbone=dict(type='MaskClipViT'),
               decode_head=dict(type='MaskClipHead', class_names=['sky', 'sea'],
                                templates='single'))
    inputs, meta = torch.randn(1, 3, 32, 48), dict(img_shape=(32, 48), ori_shape=(32, 48),
                                                   pad_shape=(32, 48))
    with torch.no_grad():
        fp32 = build(cfg).inference(inputs, [meta])
        half = build(dict(cfg, precision='fp16')).inference(inputs, [meta])
    assert half.dtype == torch.float32 and half.equal(fp32)  # the CPU stays in fp32
    with pytest.raises(ValueError, match='precision must be one of'):
        build(dict(cfg, precision='int8'))
