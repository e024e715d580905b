"""reclip.class_existence (and tools/cache_class_existence.py through its command line) on the
sample scenes shipped in data/ (tiny random CLIP)."""
import json
import os.path as osp
import subprocess
import sys

import mmcv
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from reclip.models import ReCLIPRectificationHead
from reclip.models.rectification import class_existence

from maskclip.datasets import DatasetLayoutError
from maskclip.reproduction.table import parse_options
from reclip.class_existence import cache_class_existence

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')
IMAGES = [osp.join(SAMPLE, 'img_dir', 'val', f'scene_{i:03d}.jpg') for i in range(8)]
CLIP = dict(model_name=TINY_VIT, pretrained=None)
# random CLIP weights give negative logits: at -2.5 some images have classes above the
# threshold, others fall back to their top 3 (no logit lies within 0.1 of the threshold)
EXISTENCE = (-2.5, 3)
RECTIFICATION = f"""
_base_ = ['{ROOT}/configs/reclip/reclip-rectification_vit-b16_1xb1-50e_voc12-20-336x336.py']
model = dict(clip=dict(model_name='{TINY_VIT}', pretrained=None),
             decode_head=dict(class_names='sample_scenes', templates='single',
                              existence={EXISTENCE}))
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='SampleScenesDataset', data_root='{SAMPLE}',
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline={{{{_base_.train_pipeline}}}}))
"""
# the distillation config of the same teacher (its own test pipeline set to the teacher's)
DISTILLATION = f"""
_base_ = ['{ROOT}/configs/reclip/'
          'reclip-distillation_vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py']
model = dict(teacher=dict(clip=dict(model_name='{TINY_VIT}', pretrained=None),
                          decode_head=dict(class_names='sample_scenes', templates='single',
                                           existence={EXISTENCE})))
test_pipeline = [dict(type='LoadImageFromFile'),
                 dict(type='Resize', scale=(4096, 336), keep_ratio=True),
                 dict(type='PackSegInputs')]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type='SampleScenesDataset', data_root='{SAMPLE}',
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline={{{{_base_.train_pipeline}}}}))
"""


@pytest.fixture(scope='module')
def configs(tmp_path_factory):
    root = tmp_path_factory.mktemp('configs')
    (root / 'rect.py').write_text(RECTIFICATION)
    (root / 'distill.py').write_text(DISTILLATION)
    return dict(rect=str(root / 'rect.py'), distill=str(root / 'distill.py'))


@pytest.fixture(scope='module')
def cache(configs, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('existence') / 'voc_train.json')
    cache_class_existence(configs['rect'], out, batch_size=3, preprocess='test')
    return out


@torch.no_grad()
def direct_existence(config):
    """Each image loaded, resized to short side 336 and CLIP-normalised by hand."""
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
    pre = cfg.model.data_preprocessor
    mean, std = torch.tensor(pre.mean)[:, None, None], torch.tensor(pre.std)[:, None, None]
    head = model.decode_head
    rows = {}
    for path in IMAGES:
        image = mmcv.imrescale(mmcv.imread(path), (4096, 336), interpolation='bilinear',
                               backend='cv2')
        assert min(image.shape[:2]) == 336
        x = torch.from_numpy(image[..., ::-1].copy()).permute(2, 0, 1).float()
        feats = model.extract_feat(((x - mean) / std)[None])
        # the first name of each class (the vocabulary lists synonyms)
        first = [int(torch.nonzero(head.conv_seg.name_to_class == k)[0]) for k in range(8)]
        w_q = torch.nn.functional.normalize(head.conv_seg.text_embeddings[first], dim=-1)
        present = class_existence(feats.global_embedding, w_q, 100.0, *EXISTENCE)[0]
        rows[osp.splitext(osp.basename(path))[0]] = torch.nonzero(present).flatten().tolist()
    return rows


def test_cache_equals_direct_existence(cache, configs, capsys):
    with open(cache) as f:
        data = json.load(f)
    assert data['class_names'] == ['sky', 'water', 'sand', 'grass', 'tree', 'road', 'building',
                                   'mountain']
    settings = data['settings']
    assert settings['threshold'] == EXISTENCE[0] and settings['top_k'] == EXISTENCE[1]
    assert settings['split'] == 'train' and settings['images'] == 8
    assert settings['clip_model'] == TINY_VIT and settings['resize']['scale'] == [4096, 336]
    expected = direct_existence(configs['rect'])
    assert data['present'] == expected
    sizes = {len(v) for v in expected.values()}
    assert 3 in sizes and len(sizes) > 1, expected  # both the threshold and the top-K fallback


def test_distillation_config_uses_its_teacher(cache, configs, tmp_path, capsys):
    out = str(tmp_path / 'from_distill.json')
    assert cache_class_existence(configs['distill'], out, preprocess='test')['teacher']
    assert 'model.teacher.decode_head.existence_cache=' in capsys.readouterr().out
    with open(out) as f, open(cache) as g:
        assert json.load(f)['present'] == json.load(g)['present']


@torch.no_grad()
def authors_existence(threshold: float, top_k: int) -> dict:
    """The authors' tools/pseudo_class.py (dogehhh/ReCLIP@99b64d7, lines 103-125): PIL image ->
    Resize(224, bicubic) on the short side -> CenterCrop(224) -> CLIP mean/std -> the plain CLIP
    ``encode_image``; ``100 * cos >= threshold``, else the first K of a descending sort."""
    from torchvision import transforms as T

    from maskclip.clip import load_clip
    model = load_clip(**CLIP)
    head = ReCLIPRectificationHead('sample_scenes', CLIP, templates='single',
                                   use_reference=False, use_positional=False)
    text = head.query_embeddings()
    preprocess = T.Compose([
        T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
        lambda image: image.convert('RGB'), T.ToTensor(),
        T.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))])
    rows = {}
    for path in IMAGES:
        from PIL import Image
        feature = model.encode_image(preprocess(Image.open(path))[None])
        logits = 100.0 * (feature / feature.norm(dim=1, keepdim=True)) @ text.t()
        classes = [j for j in range(logits.shape[1]) if logits[0, j] >= threshold]
        if not classes:
            classes = torch.sort(logits, descending=True, dim=1)[1][0, :top_k].tolist()
        rows[osp.splitext(osp.basename(path))[0]] = sorted(classes)
    return rows


def test_clip_preprocessing_cache_equals_the_authors(configs, tmp_path):
    """The default view: CLIP's own preprocessing through the plain CLIP model, ``>=``."""
    out = str(tmp_path / 'clip_view.json')
    # the authors' MaskCLIP-style tower (exact GELU, eps 1e-6) must not change the plain CLIP view
    cache_class_existence(configs['rect'], out, batch_size=3, cfg_options=parse_options([
        'model.decode_head.existence_inclusive=True', 'model.backbone.mlp_act=gelu',
        'model.backbone.ln_eps=1e-6']))
    with open(out) as f:
        data = json.load(f)
    assert data['settings']['preprocess'] == 'clip' and data['settings']['inclusive'] is True
    expected = authors_existence(*EXISTENCE)
    assert data['present'] == expected
    sizes = {len(v) for v in expected.values()}
    assert 3 in sizes and len(sizes) > 1, expected  # both the threshold and the top-K fallback


def samples_for(paths):
    samples = []
    for path in paths:
        sample = SegDataSample()
        sample.set_metainfo(dict(img_path=path))
        samples.append(sample)
    return samples


def test_head_reads_the_cache(cache):
    head = ReCLIPRectificationHead('sample_scenes', CLIP, templates='single',
                                   existence_cache=cache, use_reference=False,
                                   use_positional=False)
    with open(cache) as f:
        present = json.load(f)['present']
    order = [IMAGES[5], IMAGES[0], IMAGES[7]]
    # the global embedding is not used: the cache decides
    rows = head.present_classes(torch.zeros(3, 32), samples_for(order))
    for path, row in zip(order, rows):
        key = osp.splitext(osp.basename(path))[0]
        assert torch.nonzero(row).flatten().tolist() == present[key]
    # the same file name in another folder / with another extension is the same image
    again = head.present_classes(torch.zeros(1, 32), samples_for(['/elsewhere/scene_005.png']))
    assert torch.equal(again[0], rows[0])

    with pytest.raises(KeyError, match='cache_class_existence.py'):
        head.present_classes(torch.zeros(1, 32), samples_for(['/data/not_in_cache.jpg']))
    with pytest.raises(ValueError, match='other classes'):
        ReCLIPRectificationHead(['cat', 'dog'], CLIP, templates='single', existence_cache=cache,
                                use_reference=False, use_positional=False)


def test_clear_errors(configs, tmp_path):
    maskclip_cfg = osp.join(ROOT, 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py')
    out = str(tmp_path / 'x.json')
    with pytest.raises(ValueError, match='ReCLIPRectificationHead'):
        cache_class_existence(maskclip_cfg, out, split='test', random_weights=True)
    with pytest.raises(DatasetLayoutError, match='nowhere'):
        cache_class_existence(configs['rect'], out, cfg_options={
            'train_dataloader.dataset.data_root': f'{tmp_path}/nowhere'})
    with pytest.raises(ValueError, match='learnable_query'):
        cache_class_existence(configs['rect'], out,
                              cfg_options={'model.decode_head.learnable_query': True})
    with pytest.raises(ValueError, match='half=True'):
        cache_class_existence(configs['rect'], out, preprocess='test', half=True)
    assert not (tmp_path / 'x.json').exists()


def test_tool_command_line(configs, tmp_path):
    """Its options reach the library; bad input is one ERROR line and exit status 2."""
    out = tmp_path / 'cli.json'
    result = subprocess.run([sys.executable, 'tools/cache_class_existence.py', configs['rect'],
                             '--out', str(out), '--preprocess', 'test', '--batch-size', '2'],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Use it with: --cfg-options model.decode_head.existence_cache=' in result.stdout
    assert json.loads(out.read_text())['settings']['preprocess'] == 'test'
    bad = subprocess.run([sys.executable, 'tools/cache_class_existence.py', configs['rect'],
                          '--out', str(out), '--cfg-options',
                          'model.decode_head.learnable_query=True'],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and 'ERROR: ' in bad.stderr and 'Traceback' not in bad.stderr
