"""MaskCLIP configs that carry published numbers reproduce the authors' released pipeline.

Each config's own test pipeline runs on a PASCAL-sized JPEG (375 x 500) and its model on a tiny
random CLIP of the same kind; the logits at the original image size are compared with
:mod:`tests.authors_reference`, an independent computation of chongzhou96/MaskCLIP@245d31f's
pipeline (resize rule, normalisation, tower, refinement, both resizes). Unit tests check each
departure of the authors' code against the same reference, and that the paper defaults stay.
"""
import os.path as osp
from functools import lru_cache

import numpy as np
import open_clip
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope, init_default_scope
from mmseg.registry import MODELS
from PIL import Image

from maskclip.clip import load_clip
from maskclip.text import load_vocabulary, primary_names
from maskclip.text.templates import VILD_TEMPLATES

from .. import authors_reference as ref
from ..conftest import TINY_RN, TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
MASKCLIP = osp.join(ROOT, 'configs', 'maskclip')
#: (test resize scale, keep ratio) of each family, as in the authors' dataset configs
CONTEXT = ((520, 520), True)   # long side 520
SHORT_512 = ((2048, 512), True)


def published(name):
    return osp.join(MASKCLIP, name)


#: config -> (resize, KS threshold, PD threshold, baseline); every published MaskCLIP row
FAMILIES = {}
for backbone in ('vit-b16', 'r50'):
    for dataset, resize in (('pascal-context-59-520x520', CONTEXT),
                            ('coco-stuff164k-512x512', SHORT_512)):
        FAMILIES[f'maskclip_{backbone}_{dataset}.py'] = (resize, None, None, False)
        FAMILIES[f'maskclip-ks_{backbone}_{dataset}.py'] = (resize, 1.0, None, False)
        FAMILIES[f'maskclip-pd_{backbone}_{dataset}.py'] = (resize, None, 0.5, False)
        FAMILIES[f'maskclip-ks-pd_{backbone}_{dataset}.py'] = (resize, 1.0, 0.5, False)
    FAMILIES[f'maskclip_{backbone}_voc12-20-512x512.py'] = (SHORT_512, None, None, False)
    # Table 1a's baseline (the authors released none): the unmodified last attention on their tower
    FAMILIES[f'maskclip-baseline_{backbone}_pascal-context-59-520x520.py'] = \
        (CONTEXT, None, None, True)
    FAMILIES[f'maskclip-baseline_{backbone}_coco-stuff164k-512x512.py'] = \
        (SHORT_512, None, None, True)
FAMILIES['maskclip_vit-b16_pascal-context-59-224x224.py'] = (((224, 224), False), None, None, False)
FAMILIES['maskclip_vit-b16_pascal-context-59-336x336.py'] = (((336, 336), False), None, None, False)
#: Table 8's multi-scale ensembles: softmax of each scale at the image size, averaged
ENSEMBLES = {
    'maskclip_vit-b16_pascal-context-59-ms-224-520.py': [((224, 224), False), CONTEXT],
    'maskclip_vit-b16_pascal-context-59-ms-224-336-520.py':
        [((224, 224), False), ((336, 336), False), CONTEXT],
}


@pytest.fixture(scope='module')
def pascal_sized_image(tmp_path_factory):
    """A 375 x 500 JPEG with smooth regions and texture (not pure noise)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:375, 0:500]
    image = np.stack([(xx * 0.5) % 256, (yy * 0.7) % 256, ((xx + yy) * 0.3) % 256], -1)
    image[100:250, 150:350] = [200, 40, 40]
    image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
    path = tmp_path_factory.mktemp('parity') / 'pascal_like.jpg'
    Image.fromarray(image).save(path, quality=95)
    return str(path)


#: tiny random CLIPs built as OpenAI's (QuickGELU), so that the authors' exact GELU shows
TINY_CLIP = dict(pretrained=None, quick_gelu=True)


@lru_cache(maxsize=None)
def tiny_clip(name):
    return load_clip(name, **TINY_CLIP).eval()


@lru_cache(maxsize=None)
def reference_text(name, vocabulary):
    names = primary_names(load_vocabulary(vocabulary))
    return ref.class_embeddings(tiny_clip(name), open_clip.get_tokenizer(name), names,
                                VILD_TEMPLATES)


def tiny_cfg(path):
    cfg = Config.fromfile(path)
    model = cfg.model.module if cfg.model.type == 'SegTTAModel' else cfg.model
    tiny = TINY_VIT if model.backbone.type == 'MaskClipViT' else TINY_RN
    model.clip = dict(model_name=tiny, **TINY_CLIP)
    return cfg, tiny


def without_labels(transforms):
    """The pipeline less LoadAnnotations (no ground truth here), TestTimeAug included."""
    kept = []
    for t in transforms:
        if isinstance(t, (list, tuple)):
            t = without_labels(t)
            if t:
                kept.append(t)
        elif t['type'] == 'TestTimeAug':
            kept.append(dict(t, transforms=without_labels(t['transforms'])))
        elif t['type'] != 'LoadAnnotations':
            kept.append(t)
    return kept


def run_config(cfg, image_path):
    """The config's test pipeline and model: (K, H, W) scores at the original image size."""
    init_default_scope('mmseg')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model).eval()
        pipeline = Compose(without_labels(cfg.test_dataloader.dataset.pipeline))
    data = pipeline(dict(img_path=image_path))
    batch = pseudo_collate([data])
    if cfg.model.type == 'SegTTAModel':  # TestTimeAug packs one item per scale
        batch = dict(inputs=[[x] for x in data['inputs']],
                     data_samples=[[x] for x in data['data_samples']])
    with torch.no_grad():
        result = model.test_step(batch)[0]
    # SegTTAModel keeps only the merged labels (its scores are the last scale's)
    return result.pred_sem_seg.data[0] if cfg.model.type == 'SegTTAModel' \
        else result.seg_logits.data


def reference_scores(image_path, tiny, vocabulary, resize, ks, pd, baseline):
    scale, keep_ratio = resize
    image = ref.load_and_resize(image_path, scale, keep_ratio)
    inputs = ref.normalise(image)
    visual = tiny_clip(tiny).visual
    with torch.no_grad():
        if tiny == TINY_VIT:
            dense, keys = ref.vit_dense(visual, inputs, baseline=baseline)
        else:
            dense, keys = ref.resnet_dense(visual, inputs, baseline=baseline)
        logits = ref.head(dense, keys, reference_text(tiny, vocabulary), ks, pd)
    return ref.resize_twice(logits, image.shape[:2], (375, 500))[0]


def assert_parity(ours, theirs):
    assert ours.shape == theirs.shape
    corr = np.corrcoef(ours.flatten().numpy(), theirs.flatten().numpy())[0, 1]
    agreement = (ours.argmax(0) == theirs.argmax(0)).float().mean().item()
    assert corr > 0.9999 and agreement >= 0.995, (corr, agreement)


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_published_config_matches_the_authors_pipeline(name, pascal_sized_image):
    cfg, tiny = tiny_cfg(published(name))
    resize, ks, pd, baseline = FAMILIES[name]
    vocabulary = cfg.model.decode_head.class_names
    assert vocabulary.endswith('_maskclip')  # the authors' class names
    ours = run_config(cfg, pascal_sized_image)
    assert_parity(ours, reference_scores(pascal_sized_image, tiny, vocabulary, resize, ks, pd,
                                         baseline))


@pytest.mark.parametrize('name', sorted(ENSEMBLES))
def test_table8_ensembles_average_the_single_scale_pipelines(name, pascal_sized_image):
    cfg, tiny = tiny_cfg(published(name))
    labels = run_config(cfg, pascal_sized_image)
    vocabulary = cfg.model.module.decode_head.class_names
    probs = [reference_scores(pascal_sized_image, tiny, vocabulary, resize, None, None, False)
             .softmax(dim=0) for resize in ENSEMBLES[name]]
    expected = torch.stack(probs).mean(0).argmax(0)
    assert labels.shape == expected.shape == (375, 500)
    assert (labels == expected).float().mean() >= 0.995
    # not just one scale's answer: the ensemble differs from each single scale somewhere
    assert all((labels != p.argmax(0)).any() for p in probs)


#: (config, option, value, how the authors' pipeline differs): each departure turned back to the
#: paper's behaviour must break the parity above, so the parity test sees every one of them
#: (the activation, LayerNorm eps, KS threshold and PD keep rule barely move tiny random logits:
#: the unit tests below check them on inputs where they matter)
SENSITIVITY = [
    ('maskclip_vit-b16_pascal-context-59-520x520.py', 'backbone.patch_padding', 'floor',
     'corner padding'),
    ('maskclip-ks_vit-b16_pascal-context-59-520x520.py', 'backbone.keys_through_out_proj', False,
     'keys through out_proj'),
    ('maskclip-ks_vit-b16_pascal-context-59-520x520.py', 'decode_head.ks_key_norm', 'channel',
     'token-axis key normalisation'),
]


@pytest.mark.parametrize('name,option,value,departure', SENSITIVITY,
                         ids=[s[3] for s in SENSITIVITY])
def test_each_departure_is_seen_by_the_parity_check(name, option, value, departure,
                                                    pascal_sized_image):
    cfg, tiny = tiny_cfg(published(name))
    part, key = option.split('.')
    cfg.model[part][key] = value
    resize, ks, pd, baseline = FAMILIES[name]
    theirs = reference_scores(pascal_sized_image, tiny, cfg.model.decode_head.class_names,
                              resize, ks, pd, baseline)
    with pytest.raises(AssertionError):
        assert_parity(run_config(cfg, pascal_sized_image), theirs)


def test_context_resize_is_the_long_side_and_table8_squares(pascal_sized_image):
    """Exact sizes: 375 x 500 -> 390 x 520 (long side 520), 224 x 224, 336 x 336; COCO-Stuff
    and VOC short side 512 -> 512 x 683."""
    def resized(name):
        cfg = Config.fromfile(published(name))
        with DefaultScope.overwrite_default_scope('mmseg'):
            pipeline = Compose(without_labels(cfg.test_dataloader.dataset.pipeline))
        return tuple(pipeline(dict(img_path=pascal_sized_image))['inputs'].shape[-2:])
    assert resized('maskclip_vit-b16_pascal-context-59-520x520.py') == (390, 520)
    assert resized('maskclip_r50_pascal-context-60-520x520.py') == (390, 520)
    assert resized('maskclip_vit-b16_pascal-context-59-224x224.py') == (224, 224)
    assert resized('maskclip_vit-b16_pascal-context-59-336x336.py') == (336, 336)
    assert resized('maskclip_vit-b16_coco-stuff164k-512x512.py') == (512, 683)
    assert resized('maskclip_r50_voc12-20-512x512.py') == (512, 683)


# ----------------------------------------------------------------- departures, one at a time

def amplified_tiny_vit(scale_mlp=1.0, scale_embed=1.0):
    """The tiny ViT with MLP inputs scaled up (GELU and QuickGELU then differ) or the patch /
    class / positional embeddings scaled down (LayerNorm's eps then matters)."""
    clip = load_clip(TINY_VIT, **TINY_CLIP)
    visual = clip.visual
    with torch.no_grad():
        for block in visual.transformer.resblocks:
            block.mlp.c_fc.weight.mul_(scale_mlp)
            block.mlp.c_proj.weight.mul_(scale_mlp)
        for tensor in (visual.conv1.weight, visual.class_embedding, visual.positional_embedding):
            tensor.mul_(scale_embed)
    return visual


def our_vit_features(visual, images, **options):
    from maskclip.models.backbones import MaskClipViT
    encoder = MaskClipViT(clip=dict(model_name=TINY_VIT, **TINY_CLIP), **options)
    encoder.visual.load_state_dict(visual.state_dict())
    with torch.no_grad():
        out = encoder(images)
    return out.dense, out.keys


AUTHORS_TOWER = dict(mlp_act='gelu', ln_eps=1e-6, patch_padding='corner',
                     keys_through_out_proj=True)


@pytest.mark.parametrize('size', [(224, 224), (200, 250)])
def test_authors_vit_tower_equals_the_direct_computation(size):
    visual = amplified_tiny_vit(scale_mlp=10.0)
    images = torch.randn(2, 3, *size)
    dense, keys = our_vit_features(visual, images, **AUTHORS_TOWER)
    with torch.no_grad():
        ref_dense, ref_keys = ref.vit_dense(visual, images)
        quick_dense, _ = ref.vit_dense(visual, images, exact_gelu=False)
    h, w = -(-size[0] // 16), -(-size[1] // 16)  # the padded grid
    assert dense.shape[-2:] == keys.shape[-2:] == (h, w)
    torch.testing.assert_close(dense, ref_dense, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(keys, ref_keys, atol=1e-4, rtol=1e-4)
    # the activation matters on these inputs: far above the agreement with the reference
    assert (dense - quick_dense).abs().max() > 20 * (dense - ref_dense).abs().max()


def test_authors_layernorm_eps_equals_the_direct_computation():
    visual = amplified_tiny_vit(scale_embed=1e-3)
    images = torch.randn(1, 3, 224, 224)
    dense, _ = our_vit_features(visual, images, **AUTHORS_TOWER)
    with torch.no_grad():
        ref_dense, _ = ref.vit_dense(visual, images, eps=1e-6)
        clip_eps_dense, _ = ref.vit_dense(visual, images, eps=1e-5)
    torch.testing.assert_close(dense, ref_dense, atol=1e-4, rtol=1e-4)
    # eps matters on these inputs: far above the agreement with the reference
    assert (dense - clip_eps_dense).abs().max() > 20 * (dense - ref_dense).abs().max()
    default, _ = our_vit_features(visual, images)
    with torch.no_grad():
        paper, _ = ref.vit_dense(visual, images, eps=1e-5, exact_gelu=False,
                                 corner_padding=False)
    torch.testing.assert_close(default, paper, atol=1e-4, rtol=1e-4)  # defaults: CLIP's tower


def test_authors_options_leave_the_shared_clip_and_text_tower_alone():
    from maskclip.models.backbones import MaskClipViT
    clip = load_clip(TINY_VIT, **TINY_CLIP)
    encoder = MaskClipViT(clip=dict(model_name=TINY_VIT, **TINY_CLIP), **AUTHORS_TOWER)
    assert isinstance(encoder.visual.transformer.resblocks[0].mlp.gelu, torch.nn.GELU)
    assert all(m.eps == 1e-6 for m in encoder.visual.modules()
               if isinstance(m, torch.nn.LayerNorm))
    shared = load_clip(TINY_VIT, **TINY_CLIP)
    assert not isinstance(shared.visual.transformer.resblocks[0].mlp.gelu, torch.nn.GELU)
    assert all(m.eps == 1e-5 for m in shared.modules() if isinstance(m, torch.nn.LayerNorm))
    assert not isinstance(clip.transformer.resblocks[0].mlp.gelu, torch.nn.GELU)


def test_authors_key_smoothing_threshold_leaves_saturated_positions():
    """Threshold 1.0: a position whose top confidence is exactly 1 in fp32 is not smoothed."""
    from maskclip.models.refinement import key_smooth
    logits = torch.randn(1, 4, 3, 5) * 0.01
    logits[0, 2, 1, 1] = 1.0  # softmax(100 l) saturates to exactly 1 here
    keys = torch.randn(1, 8, 3, 5)
    probs = torch.softmax(100 * logits, dim=1)
    assert probs[0, :, 1, 1].max() == 1.0
    ours = key_smooth(logits, keys, threshold=1.0, key_norm='token')
    torch.testing.assert_close(ours, ref.refine(logits, keys, ks_threshold=1.0))
    torch.testing.assert_close(ours[0, :, 1, 1], probs[0, :, 1, 1])
    every = key_smooth(logits, keys, threshold=None, key_norm='token')
    assert not torch.allclose(every[0, :, 1, 1], probs[0, :, 1, 1])


def test_authors_prompt_denoising_keeps_no_class_on_purpose():
    """An image whose classes all stay below 0.5: the authors drop them all (argmax 0), the
    paper default keeps its best class."""
    from maskclip.models.heads.maskclip_head import MaskClipHead
    logits = torch.zeros(2, 3, 4, 4)
    logits[0, 1, :2] = 0.02   # image 0: confidences ~0.79 at the top rows -> class 1 survives
    logits[1, 2, 0, 0] = 0.005  # image 1: every class below 0.5 everywhere
    for keep in (False, True):
        head = MaskClipHead(['a', 'b', 'c'], clip=dict(model_name=TINY_VIT, pretrained=None),
                            templates='single', prompt_denoising=True, pd_keep_top_class=keep)
        head.cls_seg = lambda feats, logits=logits: logits
        out = head(type('F', (), dict(dense=None, keys=None))())
        theirs = ref.refine(logits, None, pd_threshold=0.5)
        if not keep:
            torch.testing.assert_close(out, theirs)
            assert (out[1] == -100).all() and out[1].argmax(0).eq(0).all()
        else:
            assert (out[1, 2] == logits[1, 2]).all() and (out[1, :2] == -100).all()
        torch.testing.assert_close(out[0], theirs[0])  # image 0: both rules agree


def test_every_published_maskclip_row_has_a_parity_test():
    import yaml
    with open(osp.join(ROOT, 'configs', 'reproduction', 'published.yaml')) as f:
        rows = yaml.safe_load(f)['rows']
    configs = {osp.basename(r['config']) for r in rows
               if r['paper'] == 'maskclip' and r['config'].startswith('configs/maskclip/')}
    assert configs and configs <= set(FAMILIES) | set(ENSEMBLES), configs - set(FAMILIES)
