"""ReCLIP distillation (Sec. 3.5, Eq. 6-8; Tables 6-7): a tiny DeepLabv2 student of a tiny
random-CLIP rectification teacher loaded from a checkpoint."""
import copy
import logging

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from reclip.models import RectifiedTextClassifier
from reclip.models.rectification import (class_existence, contrastive_loss, gumbel_masks,
                                         masked_average_pool)
from reclip.models.segmentors import renormalize

from .test_rectification_head import CLIP, NAMES, SIZE, build, make_data

ITERATION = 5  # the Gumbel noise is seeded by the training iteration
EMBED = 32  # the tiny CLIP's embedding size
# ImageNet statistics for the student, as the distillation configs (CLIP's differ: renormalize)
STUDENT_PREPROCESSOR = dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                            std=[58.395, 57.12, 57.375], bgr_to_rgb=False, size=(SIZE, SIZE),
                            pad_val=0, seg_pad_val=255)


def teacher_cfg(class_names=NAMES, **head):
    """The config of ``build()`` in test_reclip_rectification_head (the rectification model)."""
    return dict(
        type='ReCLIPRectificationSegmentor',
        clip=CLIP,
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                               bgr_to_rgb=False, size=(SIZE, SIZE), pad_val=0, seg_pad_val=255),
        backbone=dict(type='MaskClipViT'),
        decode_head=dict(type='ReCLIPRectificationHead', class_names=class_names,
                         templates='single', existence=(0.0, 2), **head))


def build_student(checkpoint=None, student_head='query_reference', teacher=None, **kwargs):
    cfg = student_cfg(checkpoint, student_head, teacher, **kwargs)
    torch.manual_seed(1)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def student_cfg(checkpoint=None, student_head='query_reference', teacher=None, **kwargs):
    return dict(
        type='ReCLIPDistillSegmentor',
        data_preprocessor=STUDENT_PREPROCESSOR,
        teacher=teacher or teacher_cfg(),
        teacher_checkpoint=checkpoint,
        student_head=student_head,
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                      num_stages=4, out_indices=(3,), dilations=(1, 1, 2, 4),
                      strides=(1, 2, 1, 1), norm_cfg=dict(type='BN'), contract_dilation=True),
        decode_head=dict(type='DeepLabV2Head', in_channels=64, in_index=0, channels=EMBED,
                         dilations=(1, 2), align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                          loss_weight=1.0, avg_non_ignore=True)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'),
        **kwargs)


def save_teacher(path, **head):
    """A rectification model whose W_r, PE net and BN statistics are not their initial values."""
    teacher = build(**head)
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for name, tensor in teacher.decode_head.state_dict(keep_vars=True).items():
            if name.startswith(('reference_prompt.context', 'positional.')) and \
                    tensor.is_floating_point():
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=g))
    teacher.decode_head.positional.net[1].running_var.abs_().add_(0.5)
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return teacher


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('reclip_teacher')
    shared, per_class = str(root / 'shared.pth'), str(root / 'per_class.pth')
    save_teacher(shared, positional_shared=True)
    save_teacher(per_class)
    return dict(shared=shared, per_class=per_class)


@pytest.fixture(autouse=True)
def _iteration():
    MessageHub.get_current_instance().update_info('iter', ITERATION)
    yield
    MessageHub.get_current_instance().update_info('iter', 0)


def padded_data(seed=0, gt_seed=None):
    """Two images, the second smaller than the batch (so the batch has padding)."""
    g = torch.Generator().manual_seed(seed)
    g_gt = torch.Generator().manual_seed(seed if gt_seed is None else gt_seed)
    inputs, samples = [], []
    for h, w in [(SIZE, SIZE), (48, 40)]:
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        sample = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, len(NAMES), (1, h, w), generator=g_gt)))
        sample.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w)))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def student_features(model, inputs):
    feats = model.decode_head._forward_feature(model.extract_feat(inputs))
    return feats, model.decode_head.cls_seg(feats)


def unit_query(head):
    return F.normalize(head.conv_seg.text_embeddings, dim=-1)  # 'single' template: one row a class


# ---------------------------------------------------------------------------------- losses
def test_each_loss_term_equals_direct_computation(checkpoints):
    # gumbel_scale 1 (instead of 1000) so that the Gumbel noise changes the masks
    model = build_student(checkpoints['per_class'], teacher=teacher_cfg(gumbel_scale=1.0))
    model.train()
    teacher, head = model.teacher, model.teacher.decode_head
    data = model.data_preprocessor(padded_data(), True)
    inputs, samples = data['inputs'], data['data_samples']
    assert tuple(inputs.shape[-2:]) == (SIZE, SIZE)
    losses = model.loss(inputs, copy.deepcopy(samples))
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'loss_feat', 'loss_text'}

    with torch.no_grad():
        # the teacher on the same pixels normalised its own way
        x = (inputs * model.data_preprocessor.std + model.data_preprocessor.mean -
             teacher.data_preprocessor.mean) / teacher.data_preprocessor.std
        t_feats = teacher.extract_feat(x)
        t_logits = head(t_feats)
        labels = F.interpolate(t_logits, size=(SIZE, SIZE), mode='bilinear',
                               align_corners=False).argmax(dim=1)
        labels[1, 48:] = 255  # the second image's batch padding
        labels[1, :, 40:] = 255
        feats, logits = student_features(model, inputs)
    l_mask = F.cross_entropy(F.interpolate(logits, size=(SIZE, SIZE), mode='bilinear',
                                           align_corners=False), labels, ignore_index=255)
    l_feat = F.l1_loss(F.interpolate(feats, size=(SIZE, SIZE), mode='bilinear',
                                     align_corners=False),
                       F.interpolate(t_feats.dense, size=(SIZE, SIZE), mode='bilinear',
                                     align_corners=False))
    present = class_existence(t_feats.global_embedding, unit_query(head), 100.0, 0.0, 2)
    generator = torch.Generator().manual_seed(1_000_003 * ITERATION)
    masks = gumbel_masks(logits, tau=1.0, scale=1.0, generator=generator)
    with_pixels = present & (masks.sum(dim=(2, 3)) > 0)  # see test_text_loss_skips_empty_masks
    l_text = contrastive_loss(masked_average_pool(feats, masks), unit_query(head), with_pixels,
                              0.01)

    assert present.any(dim=1).all() and not present.all()
    torch.testing.assert_close(losses['decode.loss_ce'], l_mask, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses['loss_feat'], 0.5 * l_feat, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(losses['loss_text'], 0.5 * l_text, rtol=1e-5, atol=1e-6)
    assert all(float(v.detach()) > 0 for k, v in losses.items() if k != 'decode.acc_seg')
    # the noise really follows the iteration: another iteration draws other masks
    other = gumbel_masks(logits, scale=1.0,
                         generator=torch.Generator().manual_seed(1_000_003 * 6))
    assert not torch.equal(masks, other)


def test_text_loss_skips_empty_masks(checkpoints):
    """A present class that no pixel takes has no masked feature: it is left out of Eq. 5 (its
    straight-through gradient through 0 / eps and normalize(0) would be ~1e17)."""
    model = build_student(checkpoints['per_class'])
    head = model.teacher.decode_head
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, len(NAMES), 8, 8, generator=g)
    logits[:, 3] -= 100  # class 3 never wins, even with Gumbel noise
    logits.requires_grad_(True)
    feats = torch.randn(2, EMBED, 8, 8, generator=g, requires_grad=True)
    present = torch.tensor([[True, False, False, True], [False, True, True, True]])
    loss = head.text_guided_loss(logits, feats, present)
    masks = gumbel_masks(logits.detach(), scale=1000.0,
                         generator=torch.Generator().manual_seed(1_000_003 * ITERATION))
    assert masks[:, 3].sum() == 0 and (masks[:, :3].sum(dim=(2, 3)) > 0).all()
    expected = contrastive_loss(masked_average_pool(feats.detach(), masks), unit_query(head),
                                present & torch.tensor([True, True, True, False]), 0.01)
    torch.testing.assert_close(loss.detach(), expected)
    loss.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().max() < 1e4
    assert torch.isfinite(feats.grad).all() and feats.grad.abs().max() < 1e4
    # only empty classes present: a zero loss that keeps the graph
    only_empty = head.text_guided_loss(logits, feats, torch.tensor([[0, 0, 0, 1]] * 2).bool())
    assert float(only_empty) == 0 and only_empty.requires_grad


@pytest.mark.parametrize('weights,absent', [(dict(feature_loss_weight=0), 'loss_feat'),
                                            (dict(text_loss_weight=0), 'loss_text')])
def test_table7_switches_drop_terms(checkpoints, weights, absent):
    model = build_student(checkpoints['per_class'], **weights)
    model.train()
    data = model.data_preprocessor(make_data(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert absent not in losses
    assert {'decode.loss_ce', 'loss_feat', 'loss_text'} - {absent} <= set(losses)


def test_ground_truth_is_never_read(checkpoints):
    model = build_student(checkpoints['per_class'])
    model.train()
    a = model.data_preprocessor(padded_data(seed=0, gt_seed=1), True)
    b = model.data_preprocessor(padded_data(seed=0, gt_seed=2), True)
    assert torch.equal(a['inputs'], b['inputs'])
    gt_a, gt_b = (d['data_samples'][0].gt_sem_seg.data for d in (a, b))
    assert not torch.equal(gt_a, gt_b)
    la = model.loss(a['inputs'], a['data_samples'])
    lb = model.loss(b['inputs'], b['data_samples'])
    assert la.keys() == lb.keys()
    for key in la:
        assert torch.equal(la[key], lb[key]), key


# ---------------------------------------------------------------------------------- Table 6
@pytest.mark.parametrize('student_head,positional_shared,normalize', [
    ('query', True, False), ('query_reference', True, False), ('query_reference', True, True),
    ('query_reference_pe', True, False), ('query_reference_pe', False, False)])
def test_table6_student_heads_equal_direct_formula(checkpoints, student_head, positional_shared,
                                                   normalize):
    ckpt = checkpoints['shared' if positional_shared else 'per_class']
    teacher = teacher_cfg(positional_shared=positional_shared)
    model = build_student(ckpt, student_head, teacher=teacher, normalize_features=normalize)
    model.eval()
    classifier = model.decode_head.conv_seg
    assert isinstance(classifier, RectifiedTextClassifier)
    assert not any(p.requires_grad for p in classifier.parameters())
    head = model.teacher.decode_head
    # W_r is the checkpoint's, not the initial one
    initial = build(positional_shared=positional_shared).decode_head.eval()
    assert not torch.allclose(head.reference_embeddings(), initial.reference_embeddings())

    data = model.data_preprocessor(make_data(), False)
    with torch.no_grad():
        feats, logits = student_features(model, data['inputs'])
        z = F.normalize(feats, dim=1) if normalize else feats
        expected = torch.einsum('bchw,kc->bkhw', z, unit_query(head))
        if student_head != 'query':
            expected = expected - torch.einsum('bchw,kc->bkhw', z, head.reference_embeddings())
            assert torch.equal(classifier.reference_embeddings, head.reference_embeddings())
        if student_head == 'query_reference_pe':
            pos = model.teacher.extract_feat(
                model.teacher.data_preprocessor(make_data(), False)['inputs']).pos_embed
            m_p = head.positional(pos)
            assert m_p.shape[1] == (1 if positional_shared else len(NAMES))
            expected = expected - F.interpolate(m_p, size=feats.shape[-2:], mode='bilinear',
                                                align_corners=False)
    assert logits.shape == (2, len(NAMES)) + tuple(feats.shape[-2:])
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)


def test_original_head_is_a_trainable_conv(checkpoints):
    model = build_student(checkpoints['per_class'], 'original')
    conv_seg = model.decode_head.conv_seg
    assert isinstance(conv_seg, nn.Conv2d) and conv_seg.out_channels == len(NAMES)
    assert conv_seg.in_channels == EMBED
    assert conv_seg.weight.requires_grad and conv_seg.bias.requires_grad
    model.train()
    data = model.data_preprocessor(make_data(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert 'loss_text' in losses and 'loss_feat' in losses
    sum(v for k, v in losses.items() if k.startswith('loss') or '.loss' in k).backward()
    assert conv_seg.weight.grad is not None and conv_seg.weight.grad.abs().sum() > 0


def test_incompatible_teachers_are_refused():
    with pytest.raises(ValueError, match='learnable_query=True'):
        build_student(teacher=teacher_cfg(learnable_query=True, reference_context_length=4))
    with pytest.raises(ValueError, match='use_reference=False'):
        build_student(teacher=teacher_cfg(use_reference=False))
    with pytest.raises(ValueError, match='Unknown student_head'):
        build_student(student_head='reference')


# ---------------------------------------------------------------------------------- training
@pytest.mark.parametrize('student_head', ['query_reference', 'query_reference_pe'])
def test_training_freezes_teacher_and_checkpoint_is_self_contained(checkpoints, student_head):
    model = build_student(checkpoints['per_class'], student_head)
    w_r = model.decode_head.conv_seg.reference_embeddings.clone()
    model.init_weights()  # as the runner does: the teacher and W_r keep the checkpoint's values
    assert torch.equal(model.decode_head.conv_seg.reference_embeddings, w_r)
    teacher_before = {n: t.detach().clone()
                      for n, t in model.teacher.state_dict(keep_vars=True).items()
                      if isinstance(t, torch.Tensor)}
    student_before = {n: p.detach().clone() for n, p in model.named_parameters()
                      if not n.startswith('teacher.')}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    model.train()
    for step in range(3):
        MessageHub.get_current_instance().update_info('iter', step)
        log = model.train_step(make_data(seed=step), optim)
        assert torch.isfinite(log['loss']) and {'loss_feat', 'loss_text'} <= set(log)
    assert not model.teacher.training  # train() keeps the teacher in eval mode

    for name, tensor in model.teacher.state_dict(keep_vars=True).items():
        if isinstance(tensor, torch.Tensor):
            assert torch.equal(tensor.detach(), teacher_before[name]), name
    assert all(not p.requires_grad for p in model.teacher.parameters())
    changed = [n for n, p in model.named_parameters()
               if n in student_before and not torch.equal(p.detach(), student_before[n])]
    assert any(n.startswith('backbone.') for n in changed), changed
    assert any(n.startswith('decode_head.aspp.') for n in changed), changed
    assert torch.equal(model.decode_head.conv_seg.reference_embeddings, w_r)

    state = model.state_dict()
    assert not [k for k in state if k.startswith('teacher.')]
    assert 'decode_head.conv_seg.reference_embeddings' in state
    if student_head == 'query_reference_pe':
        assert 'decode_head.conv_seg.positional_logits' in state

    fresh = build_student(None, student_head)  # no teacher checkpoint: a random W_r
    assert not torch.equal(fresh.decode_head.conv_seg.reference_embeddings, w_r)
    fresh.load_state_dict(copy.deepcopy(state), strict=True)
    model.eval()
    fresh.eval()
    data = model.data_preprocessor(make_data(seed=9), False)
    with torch.no_grad():
        expected = model.predict(data['inputs'], copy.deepcopy(data['data_samples']))
        got = fresh.predict(data['inputs'], copy.deepcopy(data['data_samples']))
    for a, b in zip(expected, got):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)


def test_renormalize_is_exact(checkpoints):
    model = build_student(checkpoints['per_class'])
    teacher = model.teacher
    raw = make_data(seed=3)
    student_inputs = model.data_preprocessor(copy.deepcopy(raw), False)['inputs']
    teacher_inputs = teacher.data_preprocessor(copy.deepcopy(raw), False)['inputs']
    x = renormalize(student_inputs, model.data_preprocessor, teacher.data_preprocessor)
    torch.testing.assert_close(x, teacher_inputs, rtol=0, atol=1e-5)
    with torch.no_grad():
        via_student = teacher.extract_feat(x)
        own = teacher.extract_feat(teacher_inputs)
        t_logits, t_feats = model.teach(student_inputs)
    torch.testing.assert_close(via_student.dense, own.dense, rtol=0, atol=1e-5)
    torch.testing.assert_close(via_student.global_embedding, own.global_embedding,
                               rtol=0, atol=1e-5)
    torch.testing.assert_close(t_feats.dense, own.dense, rtol=0, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(t_logits, teacher.decode_head(own), rtol=0, atol=1e-4)
    # a student that swaps channels cannot be renormalised to a teacher that does not
    bgr = MODELS.build(dict(STUDENT_PREPROCESSOR, bgr_to_rgb=True))
    with pytest.raises(ValueError, match='bgr_to_rgb'):
        renormalize(student_inputs, bgr, teacher.data_preprocessor)


# ---------------------------------------------------------------------------------- errors
def test_training_without_teacher_checkpoint_raises():
    model = build_student(None)
    model.train()
    data = model.data_preprocessor(make_data(), True)
    with pytest.raises(RuntimeError, match='model.teacher_checkpoint'):
        model.loss(data['inputs'], data['data_samples'])


def test_checkpoint_for_other_class_names(checkpoints):
    other = ['cat', 'dog', 'grass', 'tree']
    with pytest.raises(ValueError, match='positional bias has one map per class'):
        build_student(checkpoints['per_class'],
                      teacher=teacher_cfg(other, positional_shared=False))

    records = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        model = build_student(checkpoints['shared'],
                              teacher=teacher_cfg(other, positional_shared=True))
    finally:
        logger.removeHandler(handler)
    messages = [r.getMessage() for r in records]
    assert any('trained for 4 classes' in m and 'class-agnostic' in m for m in messages), messages
    assert list(model.teacher.decode_head.class_names) == other
    # the checkpoint's context is used with the new names
    saved = torch.load(checkpoints['shared'])['state_dict']
    context = saved['decode_head.reference_prompt.context']
    assert torch.equal(model.teacher.decode_head.reference_prompt.context.detach(), context)


def test_released_code_trains_the_student_with_l_mask_only(checkpoints):
    """feature_terms_grad=False (the authors' ``feat = output.detach()``): the same loss values,
    but the student's gradients are those of L_mask alone; the default trains with all three."""
    grads = {}
    for grad in (True, False):
        model = build_student(checkpoints['per_class'], feature_terms_grad=grad)
        model.train()
        data = model.data_preprocessor(padded_data(), True)
        losses = model.loss(data['inputs'], copy.deepcopy(data['data_samples']))
        total = losses['decode.loss_ce'] + losses['loss_feat'] + losses['loss_text']
        params = [p for p in model.decode_head.parameters() if p.requires_grad]
        grads[grad] = torch.autograd.grad(total, params, allow_unused=True, retain_graph=True)
        if not grad:
            mask_only = torch.autograd.grad(losses['decode.loss_ce'], params, allow_unused=True)
        grads[grad, 'values'] = [float(losses[k]) for k in ('loss_feat', 'loss_text')]
    assert grads[True, 'values'] == pytest.approx(grads[False, 'values'])
    for ours, expected in zip(grads[False], mask_only):
        if expected is None:
            assert ours is None or not ours.any()
        else:
            torch.testing.assert_close(ours, expected)
    assert any(not torch.allclose(a, b) for a, b in zip(grads[True], grads[False])
               if a is not None and b is not None)
    with pytest.raises(ValueError, match='feature_terms_grad must be True or False'):
        build_student(checkpoints['per_class'], feature_terms_grad='no')


def test_distilled_checkpoint_runs_through_inference_model(checkpoints, tmp_path):
    """A trained ReCLIP student in three lines: init_model + inference_model give the labels
    of the model that wrote the checkpoint (W_r and the student from the file, no teacher
    checkpoint needed)."""
    from mmengine.config import Config

    import maskclip
    model = build_student(checkpoints['per_class'], 'query_reference_pe')
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    model.train()
    MessageHub.get_current_instance().update_info('iter', 0)
    model.train_step(make_data(seed=3), optim)  # not the initial weights
    path = tmp_path / 'student.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    cfg = Config(dict(model=student_cfg(checkpoints['per_class'], 'query_reference_pe'),
                      test_pipeline=[dict(type='LoadImageFromFile'),
                                     dict(type='PackSegInputs')]))
    image = np.random.default_rng(0).integers(0, 255, (SIZE, SIZE + 8, 3)).astype(np.uint8)

    loaded = maskclip.init_model(cfg, str(path))
    result = maskclip.inference_model(loaded, image)

    model.eval()
    model.cfg = cfg
    expected = maskclip.inference_model(model, image)
    assert result.pred_sem_seg.data.shape[-2:] == image.shape[:2]
    assert torch.equal(result.seg_logits.data, expected.seg_logits.data)
    assert torch.equal(result.pred_sem_seg.data, expected.pred_sem_seg.data)


def test_teacher_runs_without_grad_and_encodes_its_prompts_once(checkpoints):
    """The rectification teacher (eval mode) caches its Reference / Query prompt embeddings:
    the text transformer runs in the first step only, and never with autograd."""
    from ..test_models.test_teacher import watch_teacher
    model = build_student(checkpoints['per_class'])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    model.train()
    with watch_teacher(model) as record:
        model.train_step(make_data(seed=0), optim)
        first_step = record['text_passes']
        for step in (1, 2):
            MessageHub.get_current_instance().update_info('iter', step)
            model.train_step(make_data(seed=step), optim)
    assert record['teacher_calls'] > 0 and not record['grad_in_teacher']
    assert first_step >= 1 and record['text_passes'] == first_step


def test_authors_text_term_over_channel_chunks_equals_the_whole_map():
    """L_text pools the upsampled features CHANNEL_CHUNK channels at a time: the same value
    and gradient as upsampling every channel at once."""
    from reclip.models.segmentors import CHANNEL_CHUNK, authors_text_term
    g = torch.Generator().manual_seed(0)
    channels, classes = 2 * CHANNEL_CHUNK + 5, 4
    feats = torch.randn(2, channels, 6, 7, generator=g, requires_grad=True)
    labels = torch.randint(0, classes, (2, 1, 24, 28), generator=g)
    labels[1, :, :4] = 255
    present = torch.tensor([[True, False, True, True], [False, True, True, False]])
    text = F.normalize(torch.randn(classes, channels, generator=g), dim=-1)
    ours = authors_text_term(feats, labels, present, text)
    ours.backward()
    grad, feats.grad = feats.grad.clone(), None
    expected = 0
    for one_feats, one_labels, one_present in zip(feats, labels[:, 0], present):
        index = one_present.nonzero(as_tuple=True)[0]
        up = F.interpolate(one_feats[None], size=(24, 28), mode='bilinear')[0]
        masks = (one_labels[None] == index[:, None, None]).float()
        pooled = (masks[:, None] * up[None]).mean(dim=(2, 3))
        expected = expected + F.cross_entropy(np.log(100.0) * pooled @ text.t(), index)
    expected = expected / 2
    expected.backward()
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(grad, feats.grad)
