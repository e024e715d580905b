"""ReCLIP under the authors' options equals direct computations written from their released code
(dogehhh/ReCLIP@99b64d7, the last commit before the ReCLIP++ refactor; file and line in each
docstring). Tiny random CLIP, CPU."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from torch import nn

from reclip.models.rectification import class_existence, gumbel_masks

from .. import authors_reference as ref
from ..test_reclip.test_distillation import (NAMES, SIZE, build_student, padded_data, student_features,
                                       teacher_cfg, unit_query)
from ..test_reclip.test_rectification_head import build, make_data
from .test_maskclip_parity import amplified_tiny_vit, our_vit_features

#: the rectification head as the authors' ReCLIP class (model/model.py:263-392)
AUTHORS_HEAD = dict(reference_init=0, reference_name_layout='authors', reference_norm='matrix',
                    contrastive_rule='authors', positional_final_relu=True,
                    positional_zero_init=False, existence_inclusive=True)
#: the distillation as the authors' ReCLIP_DISTILL (model/model.py:1061-1369)
AUTHORS_DISTILL = dict(pseudo_label_pd=dict(scale=10.0, threshold=0.5, keep_top_class=False),
                       keep_gt_ignore=True, teacher_pe_norm='batch', distill_terms='authors',
                       feature_terms_grad=False, normalize_features=True)


def authors_pe_net(positional, batch_mode: bool) -> nn.Sequential:
    """The authors' proj_net (conv-BN-ReLU x 3) with our trained weights. The distillation
    teacher copies conv and BN weight/bias only (running statistics left at 0 / 1,
    model.py:1124-1173) and runs in training mode."""
    net = copy.deepcopy(positional.net)
    if batch_mode:
        for layer in net:
            if isinstance(layer, nn.BatchNorm2d):
                layer.reset_running_stats()
        net.train()
    else:
        net.eval()
    return net


def perturb(head, seed=3):
    """Trained-looking W_r context and PE net (weights and running statistics)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        head.reference_prompt.context.add_(0.3 * torch.randn(head.reference_prompt.context.shape,
                                                             generator=g))
        for name, tensor in head.positional.state_dict(keep_vars=True).items():
            if tensor.is_floating_point():
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=g))
                if 'running_var' in name:
                    tensor.abs_().add_(0.5)


# ----------------------------------------------------------------------------- rectification
def test_rectified_logits_and_test_time_pd_equal_the_authors():
    """M = f W_q - (f W_r / ||W_r||_F + ReLU(BN(conv(...)))) (model.py:346-362) and the ReCLIP
    test-time PD: softmax(100 M), a class below the threshold everywhere -> -100, no class kept
    on purpose (tools/test.py:77-81)."""
    model = build(prompt_denoising=True, pd_threshold=0.7, pd_keep_top_class=False,
                  **AUTHORS_HEAD).eval()
    head = model.decode_head
    perturb(head)
    data = model.data_preprocessor(make_data(), False)
    with torch.no_grad():
        feats = model.extract_feat(data['inputs'])
        ours = head(feats)
        f = F.normalize(feats.dense, dim=1)
        raw = head.reference_prompt.raw_embeddings()
        pe = authors_pe_net(head.positional, batch_mode=False)(feats.pos_embed)
        m = (torch.einsum('bchw,kc->bkhw', f, unit_query(head))
             - (torch.einsum('bchw,kc->bkhw', f, raw / raw.norm()) + pe))
        assert (pe >= 0).all() and (pe > 0).any()  # the authors' final ReLU
        peak = F.softmax(100 * m, dim=1).flatten(2).max(dim=-1).values
        removed = peak < 0.7
        assert removed.any() and not removed.all()
        expected = m.clone()
        expected[removed[:, :, None, None].expand_as(m)] = -100
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_authors_loss_value_and_gradients_equal_the_authors():
    """Eq. 5 as model.py:364-389: hard Gumbel masks of 1000 M, per-class masked features averaged
    over all positions, logits 100 * pooled @ W_q^T, CE per image, summed / batch; the same noise
    through both (the head's seeded Gumbel generator)."""
    MessageHub.get_current_instance().update_info('iter', 7)
    model = build(**AUTHORS_HEAD, gumbel_scale=1.0).train()
    head = model.decode_head
    perturb(head)
    data = model.data_preprocessor(make_data(), True)
    feats = model.extract_feat(data['inputs'])
    present = torch.tensor([[True, False, True, False], [False, True, True, True]])
    loss = head.text_guided_loss(head(feats), feats.dense, present)
    ours = torch.autograd.grad(loss, [head.reference_prompt.context,
                                      head.positional.net[0].weight])

    logits = head(feats)
    # the same Gumbel noise (hard masks of 1 * M, the head's seeded generator)
    masks = gumbel_masks(logits, scale=1.0, generator=head._gumbel_generator(logits.device))
    f = F.normalize(feats.dense, dim=1)
    total = 0
    for j in range(2):
        pooled = torch.stack([nn.AdaptiveAvgPool2d(1)(f[j] * masks[j, i]).flatten()
                              for i in present[j].nonzero().flatten().tolist()])
        labels = present[j].nonzero().flatten()
        total = total + F.cross_entropy(100 * pooled @ unit_query(head).t(), labels)
    expected = total / 2
    theirs = torch.autograd.grad(expected, [head.reference_prompt.context,
                                            head.positional.net[0].weight])
    MessageHub.get_current_instance().update_info('iter', 0)
    torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)
    for a, b in zip(ours, theirs):
        assert b.abs().max() > 0
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_reclip_tower_eps_only_in_the_blocks():
    """ln_1 / ln_2 at 1e-6, ln_pre / ln_post at CLIP's 1e-5 (model.py:38-44, 85-91, 215-216),
    exact GELU (model.py:42, 89: active at 99b64d7, commented out only in d2bf59c)."""
    visual = amplified_tiny_vit(scale_embed=1e-3)
    images = torch.randn(1, 3, 224, 224)
    dense, _ = our_vit_features(visual, images, mlp_act='gelu', ln_eps=1e-6,
                                ln_eps_scope='blocks', patch_padding='corner')
    with torch.no_grad():
        expected, _ = ref.vit_dense(visual, images, eps=1e-6, outer_eps=1e-5)
        everywhere, _ = ref.vit_dense(visual, images, eps=1e-6)
    torch.testing.assert_close(dense, expected, atol=1e-4, rtol=1e-4)
    assert (dense - everywhere).abs().max() > 20 * (dense - expected).abs().max()


# ----------------------------------------------------------------------------- distillation
@pytest.fixture(scope='module')
def authors_teacher(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('reclip_authors') / 'teacher.pth')
    teacher = build(**AUTHORS_HEAD)
    perturb(teacher.decode_head)
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


def test_pseudo_labels_and_each_distillation_term_equal_the_authors(authors_teacher):
    """assign_label (model.py:1240-1272), L_mask / L_feat / L_text (model.py:1305-1333) and the
    student classifier (model.py:1224-1238) on one batch."""
    MessageHub.get_current_instance().update_info('iter', 5)
    model = build_student(authors_teacher, teacher=teacher_cfg(**AUTHORS_HEAD),
                          **AUTHORS_DISTILL)
    model.decode_head.loss_decode.avg_non_ignore = False  # mmseg 0.x / the authors' mean
    model.train()
    teacher, head = model.teacher, model.teacher.decode_head
    raw_data = padded_data()
    raw_data['data_samples'][0].gt_sem_seg.data[:, :20] = 255  # ground-truth ignore (e.g. VOC bg)
    data = model.data_preprocessor(raw_data, True)
    inputs, samples = data['inputs'], data['data_samples']
    gt = torch.stack([s.gt_sem_seg.data for s in samples])[:, 0]
    losses = model.loss(inputs, copy.deepcopy(samples))
    MessageHub.get_current_instance().update_info('iter', 0)

    with torch.no_grad():
        x = (inputs * model.data_preprocessor.std + model.data_preprocessor.mean -
             teacher.data_preprocessor.mean) / teacher.data_preprocessor.std
        t_feats = teacher.extract_feat(x)
        clip_feat = t_feats.dense  # proj(v), unnormalised
        f = F.normalize(clip_feat, dim=1)
        raw = head.reference_prompt.raw_embeddings()
        pe_net = authors_pe_net(head.positional, batch_mode=True)
        pe = pe_net(t_feats.pos_embed.expand(2, -1, -1, -1))  # B identical maps, train-mode BN
        s = (torch.einsum('nchw,lc->nlhw', f, unit_query(head))
             - (torch.einsum('nchw,lc->nlhw', f, raw / raw.norm()) + pe))
        peak = F.softmax(s * 10, dim=1).flatten(2).max(dim=-1).values
        s[(peak < 0.5)[:, :, None, None].expand_as(s)] = -100
        s = F.interpolate(s, size=gt.shape[-2:], mode='bilinear', align_corners=False)
        y = torch.where(gt < 255, s.argmax(dim=1), torch.full_like(gt, 255))
        assert (y == 255).any() and (y < 255).any()
        # the batch statistics matter: running statistics give another bias map
        assert not torch.allclose(pe[:1], authors_pe_net(head.positional, False)(t_feats.pos_embed))

        feats, seg_logits = student_features(model, inputs)
        unit = F.normalize(feats, dim=1)
        w_r = raw / raw.norm()
        expected_logits = (torch.einsum('nchw,lc->nlhw', unit, unit_query(head))
                           - torch.einsum('nchw,lc->nlhw', unit, w_r))  # no logit scale
        torch.testing.assert_close(seg_logits, expected_logits, atol=1e-5, rtol=1e-5)

        size = gt.shape[-2:]
        up = F.interpolate(feats, size=size, mode='bilinear', align_corners=False)
        clip_up = F.interpolate(clip_feat, size=size, mode='bilinear', align_corners=False)
        mask = y != 255
        l1 = F.l1_loss(up.permute(0, 2, 3, 1)[mask], clip_up.permute(0, 2, 3, 1)[mask])
        present = class_existence(t_feats.global_embedding, unit_query(head), 100.0, 0.0, 2,
                                  inclusive=True)
        text = 0
        for j in range(2):
            classes = present[j].nonzero().flatten().tolist()
            pooled = torch.stack([nn.AdaptiveAvgPool2d(1)(up[j] * (y[j] == i)).flatten()
                                  for i in classes])
            text = text + F.cross_entropy(math.log(100.0) * pooled @ unit_query(head).t(),
                                          torch.tensor(classes))
        seg_up = F.interpolate(seg_logits, size=size, mode='bilinear', align_corners=False)
        mask_loss = F.cross_entropy(seg_up, y, reduction='none', ignore_index=255).mean()

    torch.testing.assert_close(losses['decode.loss_ce'], mask_loss, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(losses['loss_feat'], 0.5 * l1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(losses['loss_text'], 0.5 * text / 2, atol=1e-5, rtol=1e-5)
    # the released code's detached features: only L_mask reaches the student
    assert losses['decode.loss_ce'].requires_grad
    assert not losses['loss_feat'].requires_grad and not losses['loss_text'].requires_grad


def test_floored_poly_lr_equals_the_authors_schedule():
    """adjust_learning_rate_poly(epoch, E, 0.01, 0.9, min_lr=1e-4) (tools/distill.py:37-45)."""
    from mmengine.optim import OptimWrapper
    from mmseg.registry import PARAM_SCHEDULERS
    param = nn.Parameter(torch.zeros(1))
    optim = OptimWrapper(torch.optim.SGD([param], lr=0.01))
    scheduler = PARAM_SCHEDULERS.build(dict(type='FlooredPolyLR', optimizer=optim, eta_min=1e-4,
                                            power=0.9, begin=0, end=100, by_epoch=True))
    seen = []
    for _ in range(100):
        seen.append(optim.param_groups[0]['lr'])
        optim.step()
        scheduler.step()
    expected = [max(0.01 * (1 - e / 100) ** 0.9, 1e-4) for e in range(100)]
    assert seen == pytest.approx(expected, rel=1e-9)
    assert seen[-1] > 1e-4  # epoch 99 is 1.58e-4: the floor clips, it does not offset
    from mmengine.optim.scheduler import PolyLR
    optim2 = OptimWrapper(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.01))
    mmengine_poly = PolyLR(optim2, eta_min=1e-4, power=0.9, begin=0, end=100, by_epoch=True)
    for _ in range(99):
        optim2.step()
        mmengine_poly.step()
    # the last epoch: mmengine decays to its floor, the authors stay above it (why this exists)
    assert optim2.param_groups[0]['lr'] == pytest.approx(1e-4)
    assert expected[99] == pytest.approx(1.585e-4, rel=1e-3)


def test_a_stage_hands_on_its_best_checkpoint(tmp_path):
    """Both authors' stages keep their best validation epoch (tools/train.py:168-170,
    tools/distill.py:164-166): a finished stage with save_best passes that one on."""
    from types import SimpleNamespace

    from maskclip import stages
    last, best = tmp_path / 'epoch_3.pth', tmp_path / 'best_mIoU_epoch_2.pth'
    for path in (last, best):
        path.write_bytes(b'x')
    (tmp_path / 'last_checkpoint').write_text(str(last))
    hub = MessageHub.get_instance('stage_test')
    runner = SimpleNamespace(message_hub=hub, work_dir=str(tmp_path))
    assert stages.kept_checkpoint(runner) == str(last)
    hub.update_info('best_ckpt', str(best))
    assert stages.kept_checkpoint(runner) == str(best)


# ----------------------------------------------------------------------------- configs
def published_reclip_configs():
    import os.path as osp

    import yaml
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    with open(osp.join(root, 'configs', 'reproduction', 'published.yaml')) as f:
        rows = yaml.safe_load(f)['rows']
    paths = sorted({row['config'] for row in rows
                    if row['paper'] == 'reclip' and row.get('config')
                    and osp.basename(row['config']).startswith('reclip')})
    return [osp.join(root, p) for p in paths]


@pytest.mark.parametrize('path', published_reclip_configs(),
                         ids=lambda p: p.rsplit('/', 1)[-1])
def test_every_published_reclip_config_uses_the_authors_settings(path):
    """Each published ReCLIP row's config (both stages of a two-stage one) carries every option
    that the parity tests above check, with the authors' schedule."""
    from mmengine.config import Config

    from maskclip.stages import read_stages
    cfg = Config.fromfile(path)
    configs = [Config.fromfile(s.config) for s in read_stages(cfg)] if cfg.get('stages') else [cfg]
    for stage in configs:
        distill = stage.model.type == 'ReCLIPDistillSegmentor'
        rect = stage.model.teacher if distill else stage.model
        assert {k: rect.decode_head[k] for k in AUTHORS_HEAD} == AUTHORS_HEAD
        assert rect.decode_head.pd_scale == 100.0 and not rect.decode_head.pd_keep_top_class
        assert rect.decode_head.existence_cache.startswith('data/reclip_existence/')
        assert dict(rect.backbone, type=None, mode=None) == dict(
            type=None, mode=None, mlp_act='gelu', ln_eps=1e-6, ln_eps_scope='blocks',
            patch_padding='corner')
        assert rect.data_preprocessor.mean == [123.675, 116.28, 103.53]
        assert stage.param_scheduler[0]['type'] == 'FlooredPolyLR'
        assert stage.param_scheduler[0]['end'] == stage.train_cfg.max_epochs
        assert stage.train_cfg.val_interval == 1
        assert stage.default_hooks.checkpoint.save_best == 'mIoU'
        if distill:
            assert {k: stage.model[k] for k in AUTHORS_DISTILL} == AUTHORS_DISTILL
            assert stage.model.teacher_amp is False  # their float32 teacher
            assert stage.model.backbone.depth == 50 and stage.model.decode_head.branch_norm_act
            assert not stage.model.decode_head.loss_decode.avg_non_ignore
            assert stage.param_scheduler[0]['eta_min'] == 1e-4
            assert stage.train_dataloader.batch_size * stage.recipe_gpus == 16
        else:
            assert stage.param_scheduler[0]['eta_min'] == 0.0
            assert stage.train_dataloader.batch_size == 1 and stage.recipe_gpus == 1
        crop = stage.train_dataloader.dataset.pipeline[3]
        assert crop['type'] == 'RandomCrop' and crop['cat_max_ratio'] == 0.75
        assert [t['type'] for t in stage.train_dataloader.dataset.pipeline][-3:] == [
            'RandomFlip', 'PhotoMetricDistortion', 'PackSegInputs']
