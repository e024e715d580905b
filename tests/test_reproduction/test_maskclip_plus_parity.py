"""MaskCLIP+ configs that carry published numbers use the authors' released settings, and each
of those settings equals a direct computation of the authors' behaviour (docs/reproduction.md)."""
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from maskclip.models.text_classifier import TextClassifier

from ..conftest import TINY_VIT
from ..test_models.test_maskclip_plus import SIZE, build_student, make_data, synthetic_batch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PLUS = osp.join(ROOT, 'configs', 'maskclip_plus')
IGNORE = 255


def labels_with_ignore_regions(seed):
    """A synthetic batch whose ground truth has 255 regions (background / boundaries)."""
    images, labels = synthetic_batch(2, seed)
    for label in labels:
        label[:8] = IGNORE            # a band of 'background'
        label[20:23, :] = IGNORE      # a 'boundary'
    return images, labels


@pytest.mark.parametrize('keep', [True, False])
def test_annotation_free_pseudo_labels_keep_the_ground_truth_ignore_regions(keep):
    """keep_gt_ignore=True (the authors): 255 pixels stay 255, every other pixel gets the
    teacher's label; False (the paper): every pixel gets the teacher's label."""
    model = build_student(keep_gt_ignore=keep)
    images, labels = labels_with_ignore_regions(seed=3)
    data = model.data_preprocessor(make_data(images, labels), True)
    data['data_samples'][1].set_metainfo(dict(img_shape=(SIZE - 10, SIZE)))  # batch padding
    with torch.no_grad():
        teacher = model.teacher_logits(data['inputs']).argmax(dim=1, keepdim=True)
        out = model.pseudo_ground_truth(data['inputs'], None, data['data_samples'])
    gt = torch.stack([s.gt_sem_seg.data for s in data['data_samples']])
    expected = teacher.clone()
    if keep:
        expected[gt == IGNORE] = IGNORE
    expected[1, :, SIZE - 10:] = IGNORE
    assert torch.equal(out, expected)
    assert (gt == IGNORE).float().mean() > 0.1
    assert (out[0] == IGNORE).any() == keep  # image 0 has no padding: only the option ignores


def test_keep_gt_ignore_does_not_touch_the_zero_shot_rule():
    """Zero-shot labels are the same with and without the option (it is annotation-free only)."""
    images, labels = labels_with_ignore_regions(seed=4)
    outs = []
    for keep in (False, True):
        model = build_student(unseen_classes=['blue'], keep_gt_ignore=keep)
        data = model.data_preprocessor(make_data(images, labels), True)
        with torch.no_grad():
            outs.append(model.pseudo_ground_truth(data['inputs'], None, data['data_samples']))
    assert torch.equal(outs[0], outs[1])


def test_loss_averaged_over_all_pixels_as_mmseg_0_20():
    """avg_non_ignore=False: sum of the CE of the labelled pixels / number of ALL pixels."""
    logits = torch.randn(2, 4, 6, 7)
    labels = torch.randint(0, 4, (2, 6, 7))
    labels[:, :2] = IGNORE
    with DefaultScope.overwrite_default_scope('mmseg'):
        loss = MODELS.build(dict(type='CrossEntropyLoss', avg_non_ignore=False))
    ours = loss(logits, labels, ignore_index=IGNORE)
    per_pixel = F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction='none')
    torch.testing.assert_close(ours, per_pixel.sum() / labels.numel())
    assert not torch.allclose(ours, per_pixel.sum() / (labels != IGNORE).sum())


def test_aspp_branches_with_norm_and_activation_equal_the_direct_sum():
    with DefaultScope.overwrite_default_scope('mmseg'):
        head = MODELS.build(dict(type='DeepLabV2Head', in_channels=8, channels=6, num_classes=3,
                                 branch_norm_act=True, norm_cfg=dict(type='BN'))).eval()
    for branch in head.aspp:  # non-trivial BN statistics
        branch.bn.running_mean.uniform_(-1, 1)
        branch.bn.running_var.uniform_(0.5, 2)
        branch.bn.weight.data.uniform_(0.5, 2)
        assert branch.conv.bias is None  # conv + BN: no bias, as mmcv ConvModule
    x = torch.randn(2, 8, 9, 9)
    expected = 0
    for branch, d in zip(head.aspp, (6, 12, 18, 24)):
        y = F.conv2d(x, branch.conv.weight, padding=d, dilation=d)
        bn = branch.bn
        y = (y - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None]
                                                              + bn.eps)
        expected = expected + F.relu(y * bn.weight[:, None, None] + bn.bias[:, None, None])
    with torch.no_grad():
        torch.testing.assert_close(head._forward_feature([x]), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='norm_cfg'):
        with DefaultScope.overwrite_default_scope('mmseg'):
            MODELS.build(dict(type='DeepLabV2Head', in_channels=8, channels=6, num_classes=3,
                              branch_norm_act=True))


def test_random_background_initialisation():
    clip = dict(model_name=TINY_VIT, pretrained=None)
    text = TextClassifier(['background', 'cat'], clip, 'single', learnable_background=True)
    torch.manual_seed(7)
    rand = TextClassifier(['background', 'cat'], clip, 'single', learnable_background=True,
                          background_init='random')
    torch.manual_seed(7)
    expected = torch.randn(1, rand.embed_dim)
    torch.testing.assert_close(rand.background_embeddings.data, expected)
    torch.testing.assert_close(text.background_embeddings.data, text.text_embeddings[:1])
    torch.testing.assert_close(rand.embedding_matrix()[0], F.normalize(expected[0], dim=0))
    with pytest.raises(ValueError, match="background_init must be one of 'text', 'random'"):
        TextClassifier(['background'], clip, 'single', learnable_background=True,
                       background_init='zeros')


# ------------------------------------------------------------- the published configs' settings

#: config -> what the authors' matching config sets (written from their configs/maskclip_plus/)
#: (training ann file, crop, lr, weight decay, learnable background, student depth)
PUBLISHED = {
    'maskclip-plus-r50_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py':
        ('ImageSets/Segmentation/trainaug.txt', 512, 0.01, 5e-4, False, 101),
    'maskclip-plus-r50_deeplabv2-r101_4xb4-4k_pascal-context-59-480x480.py':
        ('ImageSets/SegmentationContext/train.txt', 480, 0.01, 5e-4, False, 101),
    'maskclip-plus-r50_deeplabv2-r101_4xb4-8k_coco-stuff164k-512x512.py':
        (None, 512, 0.01, 5e-4, False, 101),
    'maskclip-plus-vit-b16_deeplabv2-r50_4xb4-4k_pascal-context-59-480x480.py':
        ('ImageSets/SegmentationContext/train.txt', 480, 0.01, 5e-4, False, 50),
    'maskclip-plus-vit-b16_deeplabv2-r50_4xb4-8k_coco-stuff164k-512x512.py':
        (None, 512, 0.01, 5e-4, False, 50),
    'maskclip-plus-r50_deeplabv2-r101_4xb4-20k_voc12-20-zero-shot-512x512.py':
        ('ImageSets/Segmentation/trainaug.txt', 512, 0.01, 5e-4, False, 101),
    'maskclip-plus-r50_deeplabv2-r101_4xb4-80k_coco-stuff164k-zero-shot-512x512.py':
        (None, 512, 0.01, 5e-4, False, 101),
    'maskclip-plus-r50_deeplabv3plus-r101_4xb4-40k_pascal-context-60-zero-shot-480x480.py':
        ('ImageSets/SegmentationContext/train.txt', 480, 0.004, 1e-4, True, 101),
}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_published_maskclip_plus_config_has_the_authors_settings(name):
    cfg = Config.fromfile(osp.join(PLUS, name))
    ann_file, crop, lr, wd, learnable_bg, depth = PUBLISHED[name]
    model = cfg.model
    assert '# Published' in open(osp.join(PLUS, name)).read()
    zero_shot = model.unseen_classes is not None
    assert model.keep_gt_ignore is True
    assert model.decode_head.loss_decode.avg_non_ignore is False
    if model.decode_head.type == 'DeepLabV2Head':
        assert model.decode_head.branch_norm_act is True
    assert model.backbone.depth == depth
    assert model.text_classifier.class_names.endswith('_maskclip')
    assert model.text_classifier.learnable_background is learnable_bg
    if learnable_bg:
        assert model.text_classifier.background_init == 'random'
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.optim_wrapper.optimizer.weight_decay == wd
    assert tuple(model.data_preprocessor.size) == (crop, crop)
    crops = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'RandomCrop']
    assert [tuple(t['crop_size']) for t in crops] == [(crop, crop)]
    if ann_file is not None:
        assert cfg.train_dataloader.dataset.ann_file == ann_file
    if 'context' in name:  # long side 520 x [0.5, 2] for training, long side 520 for testing
        resize = [t for t in cfg.train_dataloader.dataset.pipeline
                  if t['type'] == 'RandomResize'][0]
        assert tuple(resize['scale']) == (520, 520) and resize['ratio_range'] == (0.5, 2.0)
        test = [t for t in cfg.test_dataloader.dataset.pipeline if t['type'] == 'Resize'][0]
        assert tuple(test['scale']) == (520, 520) and test['keep_ratio']
    teacher = model.teacher
    if teacher.backbone.type == 'MaskClipViT':
        assert (teacher.backbone.mlp_act, teacher.backbone.ln_eps,
                teacher.backbone.patch_padding) == ('gelu', 1e-6, 'corner')
    assert (teacher.decode_head.ks_threshold, teacher.decode_head.ks_key_norm,
            teacher.decode_head.pd_keep_top_class) == (1.0, 'token', False)
    assert zero_shot == ('zero-shot' in name)


def test_every_published_maskclip_plus_row_is_checked_here():
    import yaml
    with open(osp.join(ROOT, 'configs', 'reproduction', 'published.yaml')) as f:
        rows = yaml.safe_load(f)['rows']
    configs = {osp.basename(r['config']) for r in rows
               if r['paper'] == 'maskclip' and 'maskclip_plus/' in r['config']}
    assert configs and configs <= set(PUBLISHED), configs - set(PUBLISHED)


def test_authors_options_refuse_unknown_values():
    from maskclip.datasets.transforms.corruption import ImageCorruption
    from maskclip.models.backbones import MaskClipViT
    clip = dict(model_name=TINY_VIT, pretrained=None)
    with pytest.raises(ValueError, match="patch_padding must be one of 'floor', 'corner'"):
        MaskClipViT(clip=clip, patch_padding='same')
    with pytest.raises(ValueError, match="mlp_act must be one of 'gelu', 'quick_gelu'"):
        MaskClipViT(clip=clip, mlp_act='relu')
    with pytest.raises(ValueError, match='ln_eps'):
        MaskClipViT(clip=clip, ln_eps=-1)
    with pytest.raises(ValueError, match=r"\('rgb', 'bgr'\)"):
        ImageCorruption('gaussian_noise', 1, channels='brg')
    with pytest.raises(ValueError, match='keep_gt_ignore must be True or False'):
        build_student(keep_gt_ignore='yes')
