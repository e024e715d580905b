"""ReCLIP's rectification head (Sec. 3.2-3.4, Eq. 2-5) in a MaskClipSegmentor, tiny random CLIP."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from maskclip.models import ClipFeatures
from reclip.models import ReCLIPRectificationHead

from ..conftest import TINY_VIT

CLIP = dict(model_name=TINY_VIT, pretrained=None)
NAMES = ['cat', 'dog', 'grass', 'sky']
SIZE = 64


def build(**head):
    cfg = dict(
        type='ReCLIPRectificationSegmentor',
        clip=CLIP,
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                               bgr_to_rgb=False, size=(SIZE, SIZE), pad_val=0, seg_pad_val=255),
        backbone=dict(type='MaskClipViT'),
        decode_head=dict(dict(type='ReCLIPRectificationHead', class_names=NAMES,
                              templates='single', existence=(0.0, 2)), **head))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def make_data(batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, len(NAMES), (1, SIZE, SIZE), generator=g)))
        sample.set_metainfo(dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        samples.append(sample)
    images = [torch.randint(0, 256, (3, SIZE, SIZE), generator=g, dtype=torch.uint8)
              for _ in range(batch)]
    return dict(inputs=images, data_samples=samples)


def features(model, seed=0):
    data = model.data_preprocessor(make_data(seed=seed), False)
    with torch.no_grad():
        return model.extract_feat(data['inputs'])


def cosines(dense, weights):
    return torch.einsum('bchw,kc->bkhw', F.normalize(dense, dim=1), F.normalize(weights, dim=-1))


def test_registered_and_wired():
    model = build()
    head = model.decode_head
    assert isinstance(head, ReCLIPRectificationHead)
    assert MODELS.get('ReCLIPRectificationHead') is ReCLIPRectificationHead
    assert head.num_classes == 4 and head.out_channels == 4
    assert head.in_channels == model.backbone.embed_dim
    # the positional net reads the ViT width (the positional embedding's channels)
    feats = features(model)
    assert head.positional.net[0].in_channels == feats.pos_embed.shape[1]
    assert head.existence_threshold == 0.0 and head.existence_top_k == 2


@pytest.mark.parametrize('variant', [dict(), dict(use_reference=False),
                                     dict(use_positional=False), dict(subtract=False),
                                     dict(positional_shared=True)])
def test_forward_equals_direct_formula(variant):
    model = build(**variant)
    model.eval()
    head = model.decode_head
    if head.positional is not None:  # a trained-like bias (it starts at 0)
        with torch.no_grad():
            head.positional.net[-1].weight.fill_(1.0)
    feats = features(model)
    with torch.no_grad():
        out = head(feats)
        m_q = cosines(feats.dense, head.conv_seg.text_embeddings)
        m_r = (cosines(feats.dense, head.reference_prompt())
               if variant.get('use_reference', True) else 0)
        m_p = head.positional(feats.pos_embed) if variant.get('use_positional', True) else 0
    expected = m_q + (m_r + m_p) if variant.get('subtract') is False else m_q - (m_r + m_p)
    assert out.shape == (2, 4) + tuple(feats.dense.shape[-2:])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    if variant.get('use_positional', True) and variant.get('use_reference', True):
        assert not torch.allclose(out, m_q - m_r) and not torch.allclose(out, m_q - m_p)
    # whole inference through the segmentor gives full-resolution predictions
    data = model.data_preprocessor(make_data(), False)
    with torch.no_grad():
        preds = model.predict(data['inputs'], data['data_samples'])
    assert preds[0].seg_logits.data.shape == (4, SIZE, SIZE)


def test_reference_embeddings_cached_in_eval_only():
    head = build().decode_head
    head.eval()
    w1 = head.reference_embeddings()
    assert head.reference_embeddings() is w1
    with torch.no_grad():
        head.reference_prompt.context.add_(0.1)  # an in-place change invalidates the cache
    w2 = head.reference_embeddings()
    assert w2 is not w1 and not torch.equal(w1, w2)
    head.train()
    assert head._prompt_cache == {}
    w3 = head.reference_embeddings()
    assert w3.requires_grad and head._prompt_cache == {}


def test_only_context_and_positional_params_train():
    model = build()
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    assert 'decode_head.reference_prompt.context' in trainable
    assert all(n == 'decode_head.reference_prompt.context'
               or n.startswith('decode_head.positional.') for n in trainable), trainable
    assert any(n.startswith('decode_head.positional.') for n in trainable)


def test_train_steps_update_only_context_and_positional():
    model = build()
    model.train()
    head = model.decode_head
    learnable = {n for n, p in model.named_parameters() if p.requires_grad}
    frozen = {n: t.detach().clone() for n, t in model.named_parameters()
              if n not in learnable and not n.startswith('decode_head.positional.')}
    frozen.update({f'buffer:{n}': b.detach().clone() for n, b in model.named_buffers()
                   if not n.startswith('decode_head.positional.')})
    assert any(n.startswith('backbone.') for n in frozen)
    assert any(n.startswith('decode_head.reference_prompt.transformer') for n in frozen)
    assert 'buffer:decode_head.conv_seg.text_embeddings' in frozen
    ctx = head.reference_prompt.context.detach().clone()
    pos = {n: p.detach().clone() for n, p in head.positional.named_parameters()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    for step in range(3):
        log = model.train_step(make_data(seed=step), optim)
        assert torch.isfinite(log['loss']) and 'decode.loss_contrast' in log
    state = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    for name, before in frozen.items():
        after = buffers[name[7:]] if name.startswith('buffer:') else state[name]
        assert torch.equal(after.detach(), before), name
    assert not torch.equal(head.reference_prompt.context.detach(), ctx)
    changed = [n for n, p in head.positional.named_parameters()
               if not torch.equal(p.detach(), pos[n])]
    assert changed and any('net.0' in n for n in changed), changed


def test_loss_ignores_ground_truth():
    model = build()
    model.train()
    head = model.decode_head
    feats = features(model)
    data = make_data(seed=3)
    other = make_data(seed=4)
    torch.manual_seed(7)
    a = head.loss(feats, data['data_samples'], None)['loss_contrast']
    torch.manual_seed(7)
    b = head.loss(feats, other['data_samples'], None)['loss_contrast']
    assert torch.isfinite(a) and torch.equal(a, b)


def test_bad_existence_and_prompt_denoising():
    with pytest.raises(ValueError, match='Unknown existence preset'):
        ReCLIPRectificationHead(NAMES, CLIP, templates='single', existence='nope')
    model = build(prompt_denoising=True, pd_threshold=0.99)
    model.eval()
    feats = features(model)
    with torch.no_grad():
        out = model.decode_head(feats)
    from maskclip.models.refinement import REMOVED_LOGIT
    removed = (out == REMOVED_LOGIT).flatten(2).all(dim=2)
    assert (~removed).any(dim=1).all()


def test_learnable_query_table3():
    """learnable_query: M_q and Eq. 5's text side come from a trained prompt, not the templates."""
    model = build(learnable_query=True)
    head = model.decode_head
    model.eval()
    feats = features(model)
    with torch.no_grad():
        w_q = head.query_prompt()
        expected = (cosines(feats.dense, w_q) - cosines(feats.dense, head.reference_prompt())
                    - head.positional(feats.pos_embed))
        torch.testing.assert_close(head(feats), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(head.query_embeddings(), w_q)
    # initialised from 'a photo of a', so not the 85/1-template text embeddings themselves
    assert not torch.allclose(w_q, head.conv_seg.text_embeddings, atol=1e-4)
    model.train()
    ctx = head.query_prompt.context.detach().clone()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    for step in range(2):
        model.train_step(make_data(seed=step), optim)
    assert not torch.equal(head.query_prompt.context.detach(), ctx)
    assert 'decode_head.query_prompt.context' in model.state_dict()


@pytest.mark.parametrize('shared', [False, True])
def test_gradient_reaching_the_positional_net(shared):
    """The per-class bias (default) learns from Eq. 5; a map shared by all classes shifts every
    class equally at a pixel, which softmax, Gumbel-softmax and argmax ignore: zero gradient."""
    model = build(positional_shared=shared)
    positional = model.decode_head.positional
    assert positional.out_channels == (1 if shared else len(NAMES))
    model.train()
    data = model.data_preprocessor(make_data(), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    norm = torch.sqrt(sum(p.grad.pow(2).sum() for p in positional.parameters()
                          if p.grad is not None))
    reference = model.decode_head.reference_prompt.context.grad.norm()
    assert reference > 0  # the loss does train something
    if shared:
        assert norm < 1e-4 * reference, (norm, reference)  # float round-off only
    else:
        assert norm > 1e-2 * reference, (norm, reference)


def authors_eq5_loop(feat, gumbel, text, present, logit_scale):
    """Eq. 5 written as dogehhh/ReCLIP@99b64d7 model/model.py:368-385 loops over it: per image,
    per present class, AdaptiveAvgPool2d of mask * feature, logits over all classes, CE; the sum
    over images divided by the batch size."""
    feat = feat / feat.norm(dim=1, keepdim=True)
    loss = 0
    for j in range(feat.shape[0]):
        classes = [int(i) for i in present[j].nonzero()]
        if not classes:
            continue
        pooled = torch.stack([
            torch.nn.AdaptiveAvgPool2d((1, 1))(feat[j:j + 1] * gumbel[j, i][None, None]).flatten()
            for i in classes])
        loss = loss + F.cross_entropy(logit_scale * pooled @ text.t(), torch.tensor(classes))
    return loss / feat.shape[0]


def test_authors_eq5_equals_their_loop_in_value_and_gradient():
    from reclip.models.rectification import authors_contrastive_loss
    torch.manual_seed(3)
    feat = torch.randn(3, 8, 5, 6, requires_grad=True)
    gumbel = F.one_hot(torch.randint(0, 4, (3, 5, 6)), 4).permute(0, 3, 1, 2).float()
    gumbel[0, 2] = 0  # a present class with an empty mask: kept, as theirs
    gumbel.requires_grad_(True)
    text = F.normalize(torch.randn(4, 8), dim=-1)
    present = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    ours = authors_contrastive_loss(feat, gumbel, text, present, 100.0)
    ours.backward()
    grads = feat.grad.clone(), gumbel.grad.clone()
    feat.grad = gumbel.grad = None
    theirs = authors_eq5_loop(feat, gumbel, text, present, 100.0)
    theirs.backward()
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grads[0], feat.grad)
    torch.testing.assert_close(grads[1], gumbel.grad)


def test_head_uses_the_authors_eq5_on_its_gumbel_masks():
    from reclip.models.rectification import gumbel_masks
    model = build(contrastive_rule='authors')
    head = model.decode_head
    feats = features(model)
    logits = torch.randn(2, 4, *feats.dense.shape[-2:])
    present = torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]], dtype=torch.bool)
    ours = head.text_guided_loss(logits, feats.dense, present)
    masks = gumbel_masks(logits, generator=head._gumbel_generator(logits.device))
    theirs = authors_eq5_loop(feats.dense, masks, head.query_embeddings(), present, 100.0)
    torch.testing.assert_close(ours, theirs)
    paper = build().decode_head.text_guided_loss(logits, feats.dense, present)
    assert not torch.allclose(ours, paper)
    with pytest.raises(ValueError, match="contrastive_rule must be one of 'paper', 'authors'"):
        build(contrastive_rule='theirs')


def test_reference_norm_matrix_reaches_the_logits_and_the_student():
    model = build(reference_norm='matrix')
    model.eval()
    head = model.decode_head
    raw = head.reference_prompt.raw_embeddings().detach()
    torch.testing.assert_close(head.reference_embeddings(), raw / raw.norm())
    feats = features(model)
    with torch.no_grad():
        m_q, m_r, _ = head.logit_maps(feats)
    expected = torch.einsum('bchw,kc->bkhw', F.normalize(feats.dense, dim=1), raw / raw.norm())
    torch.testing.assert_close(m_r, expected, atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="reference_norm must be one of 'row', 'matrix'"):
        build(reference_norm='frobenius')
