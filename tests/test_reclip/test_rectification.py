"""ReCLIP rectification building blocks (Eq. 2-5) against direct computations."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from reclip.models.rectification import (EXISTENCE_DEFAULTS, PositionalBias, class_existence,
                                         contrastive_loss, gumbel_masks, masked_average_pool,
                                         rectify_logits)


# --------------------------------------------------------------------------- contrastive_loss
def _loop_eq5(pooled, text, present, tau):
    terms = []
    for b in range(pooled.shape[0]):
        for k in range(pooled.shape[1]):
            if not present[b, k]:
                continue
            s = torch.stack([
                (pooled[b, k] @ text[j]) / (pooled[b, k].norm() * text[j].norm())
                for j in range(text.shape[0])])
            terms.append(-(torch.exp(s[k] / tau) / torch.exp(s / tau).sum()).log())
    return torch.stack(terms).mean()


def _example():
    g = torch.Generator().manual_seed(1)
    B, C, D = 4, 5, 8
    pooled = torch.randn(B, C, D, generator=g, dtype=torch.float64)
    text = torch.randn(C, D, generator=g, dtype=torch.float64)
    present = torch.zeros(B, C, dtype=torch.bool)
    present[1, 3] = True                 # one class
    present[2, [0, 2, 4]] = True         # several
    present[3, [1, 4]] = True            # two; image 0 has none
    return pooled, text, present


@pytest.mark.parametrize('tau', [0.01, 0.5])
def test_contrastive_loss_matches_loop(tau):
    pooled, text, present = _example()
    got = contrastive_loss(pooled, text, present, temperature=tau)
    want = _loop_eq5(pooled, text, present, tau)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    # cross-entropy formulation
    b, k = present.nonzero(as_tuple=True)
    sims = F.cosine_similarity(pooled[b, k][:, None, :], text[None], dim=-1)
    torch.testing.assert_close(got, F.cross_entropy(sims / tau, k), rtol=1e-9, atol=1e-9)
    assert got.item() > 0


def test_contrastive_loss_gradient_and_empty():
    pooled, text, present = _example()
    pooled.requires_grad_(True)
    contrastive_loss(pooled, text, present, 0.01).backward()
    assert pooled.grad is not None
    # only present (b, k) rows receive gradient
    nonzero_rows = pooled.grad.abs().sum(-1) > 0
    assert torch.equal(nonzero_rows, present)

    p2 = torch.randn(2, 3, 4, requires_grad=True)
    loss = contrastive_loss(p2, torch.randn(3, 4), torch.zeros(2, 3, dtype=torch.bool))
    assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert torch.equal(p2.grad, torch.zeros_like(p2))


# --------------------------------------------------------------------------- gumbel_masks
def test_gumbel_masks_one_hot_and_reproducible():
    logits = torch.randn(2, 6, 5, 7)
    m1 = gumbel_masks(logits, generator=torch.Generator().manual_seed(3))
    m2 = gumbel_masks(logits, generator=torch.Generator().manual_seed(3))
    assert m1.shape == logits.shape
    assert torch.equal(m1, m2)
    assert set(m1.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(m1.sum(1), torch.ones(2, 5, 7))
    # tiny scale -> noise-driven; a different seed gives a different sample
    a = gumbel_masks(logits, scale=1e-3, generator=torch.Generator().manual_seed(3))
    b = gumbel_masks(logits, scale=1e-3, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(a, b)


def test_gumbel_masks_straight_through_gradient():
    torch.manual_seed(0)
    logits = (torch.randn(2, 4, 3, 3, dtype=torch.float64) * 1e-3).requires_grad_(True)
    w = torch.randn(2, 4, 3, 3, dtype=torch.float64)
    tau, scale = 0.7, 1000.0
    hard = gumbel_masks(logits, tau=tau, scale=scale, generator=torch.Generator().manual_seed(5))
    (hard * w).sum().backward()
    g_hard = logits.grad.clone()

    # same noise, drawn directly
    u = torch.rand(logits.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    gumbels = -torch.log(-torch.log(u))
    lg = logits.detach().clone().requires_grad_(True)
    y_soft = ((scale * lg + gumbels) / tau).softmax(1)
    (y_soft * w).sum().backward()
    torch.testing.assert_close(g_hard, lg.grad)
    assert g_hard.abs().sum() > 0
    # forward value is the one-hot of the soft sample's argmax
    want = F.one_hot(y_soft.argmax(1), 4).permute(0, 3, 1, 2).to(hard.dtype)
    assert torch.equal(hard.detach(), want)
    # soft mode returns y_soft itself
    soft = gumbel_masks(logits.detach(), tau=tau, scale=scale, hard=False,
                        generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(soft, y_soft.detach())


def test_gumbel_masks_scaled_logits_give_argmax():
    # margins of >= 0.1 in logit -> >= 100 after scale 1000; the clamped Gumbel noise is
    # within about [-2.8, 16.2], so the argmax cannot flip for any noise draw.
    g = torch.Generator().manual_seed(0)
    B, C, h, w = 3, 7, 6, 6
    cls = torch.randint(0, C, (B, h, w), generator=g)
    logits = torch.rand(B, C, h, w, generator=g) * 0.1
    logits = logits + 0.2 * F.one_hot(cls, C).permute(0, 3, 1, 2)
    for seed in range(5):
        m = gumbel_masks(logits, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(m.argmax(1), cls)


# --------------------------------------------------------------------------- pooling
def test_masked_average_pool_matches_loop():
    g = torch.Generator().manual_seed(2)
    B, D, C, h, w = 2, 5, 3, 4, 6
    feats = torch.randn(B, D, h, w, generator=g, dtype=torch.float64)
    masks = (torch.rand(B, C, h, w, generator=g) > 0.5).double()
    masks[1, 2] = 0  # an empty mask -> zeros
    got = masked_average_pool(feats, masks)
    assert got.shape == (B, C, D)
    for b in range(B):
        for c in range(C):
            num = torch.zeros(D, dtype=torch.float64)
            for i in range(h):
                for j in range(w):
                    num += masks[b, c, i, j] * feats[b, :, i, j]
            want = num / (masks[b, c].sum() + 1e-6)
            torch.testing.assert_close(got[b, c], want)
    assert torch.equal(got[1, 2], torch.zeros(D, dtype=torch.float64))


# --------------------------------------------------------------------------- rectify_logits
def test_rectify_logits_subtract_add_and_broadcast():
    B, C, h, w = 2, 4, 3, 5
    q, r = torch.randn(B, C, h, w), torch.randn(B, C, h, w)
    p_shared = torch.randn(B, 1, h, w)
    got = rectify_logits(q, r, p_shared)
    want = torch.empty(B, C, h, w)
    for c in range(C):
        want[:, c] = q[:, c] - (r[:, c] + p_shared[:, 0])
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(rectify_logits(q, r, p_shared, subtract=False),
                               q + r + p_shared.expand(B, C, h, w))
    p_cls = torch.randn(B, C, h, w)
    torch.testing.assert_close(rectify_logits(q, r, p_cls), q - r - p_cls)
    # a (1, 1, h, w) map (PositionalBias output, not expanded) broadcasts too
    p1 = torch.randn(1, 1, h, w)
    torch.testing.assert_close(rectify_logits(q, r, p1), q - r - p1.expand(B, C, h, w))


# --------------------------------------------------------------------------- PositionalBias
@pytest.mark.parametrize('shared,out', [(True, 1), (False, 7)])
def test_positional_bias_shapes_and_layers(shared, out):
    D, h, w = 32, 5, 6
    net = PositionalBias(D, num_classes=7, shared=shared, hidden=(16, 8))
    pos = torch.randn(1, D, h, w)
    y = net(pos)
    assert y.shape == (1, out, h, w)
    yb = net(pos, batch_size=3)
    assert yb.shape == (3, out, h, w)
    torch.testing.assert_close(yb[2], y[0])
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 3 and len(bns) == 3
    assert [c.kernel_size for c in convs] == [(3, 3)] * 3
    assert [c.padding for c in convs] == [(1, 1)] * 3
    assert [(c.in_channels, c.out_channels) for c in convs] == [(D, 16), (16, 8), (8, out)]
    # each conv directly followed by its BN; ReLU between layers, not after the last BN
    layers = list(net.net)
    for conv, bn in zip(convs, bns):
        assert layers[layers.index(conv) + 1] is bn
    assert sum(isinstance(m, nn.ReLU) for m in layers) == 2
    assert not isinstance(layers[-1], nn.ReLU)
    # trainable parameters exist and gradient reaches all of them (not the input)
    assert all(p.requires_grad for p in net.parameters())
    pos.requires_grad_(False)
    net(pos).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_positional_bias_defaults_and_official_variant():
    net = PositionalBias(num_classes=21, shared=False, final_relu=True)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(768, 512), (512, 256), (256, 21)]
    assert isinstance(list(net.net)[-1], nn.ReLU)
    assert sum(isinstance(m, nn.ReLU) for m in net.modules()) == 3
    assert PositionalBias(num_classes=3, relu=False).net.__len__() == 6
    with pytest.raises(ValueError, match='num_classes is required'):
        PositionalBias()  # one map per class by default
    assert PositionalBias(shared=True).out_channels == 1  # the ablation
    # the authors' initialisation: kaiming-normal (fan_out) convolutions, BN weight 1 / bias 0;
    # ours starts the last BN at 0 (M_p = 0 at the start)
    authors = PositionalBias(num_classes=21, zero_init_output=False)
    norms = [m for m in authors.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(bool((n.weight == 1).all() and (n.bias == 0).all()) for n in norms)
    first = authors.net[0].weight
    assert abs(first.std().item() - math.sqrt(2 / (512 * 9))) < 0.05 * math.sqrt(2 / (512 * 9))
    ours = PositionalBias(num_classes=21)
    last = [m for m in ours.modules() if isinstance(m, nn.BatchNorm2d)][-1]
    assert (last.weight == 0).all()
    assert (ours(torch.randn(1, 768, 4, 5)) == 0).all()


def test_positional_bias_only_trainable_part():
    """In a model with a frozen encoder, PositionalBias holds the trainable parameters."""
    frozen = nn.Conv2d(3, 16, 1).requires_grad_(False)
    model = nn.ModuleDict(dict(encoder=frozen, pos_bias=PositionalBias(16, num_classes=3, hidden=(8, 4))))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith('pos_bias.') for n in trainable)


# --------------------------------------------------------------------------- class_existence
def test_class_existence_threshold_and_topk():
    # text embeddings are orthonormal axes, so cos = the normalised image embedding's entries
    text = torch.eye(4)
    img = torch.tensor([
        [0.30, 0.25, 0.10, math.sqrt(1 - 0.30**2 - 0.25**2 - 0.10**2)],  # logits 30, 25, 10, ~92
        [0.21, 0.22, 0.18, 0.20],  # after normalising all < 0.6 -> logits ~ 50; none > 99
        [0.10, 0.20, 0.30, 0.40],
    ])
    logits = 100 * F.normalize(img, dim=-1)
    # threshold 24: rows 0 (30, 25, 92 pass), 1 and 2 by hand
    got = class_existence(img, text, threshold=24.0, top_k=2)
    assert torch.equal(got, logits > 24.0)
    assert got[0].tolist() == [True, True, False, True]
    # threshold 95: nothing passes -> top-2 per row, computed by hand
    got = class_existence(img, text, threshold=95.0, top_k=2)
    assert got.tolist() == [
        [True, False, False, True],    # 30 and ~92
        [True, True, False, False],    # 0.22 and 0.21
        [False, False, True, True],    # 0.30 and 0.40
    ]
    # mixed: row 0 passes threshold 80 (class 3 only), others fall back to top-1
    got = class_existence(img, text, threshold=80.0, top_k=1)
    assert got.tolist() == [
        [False, False, False, True],
        [False, True, False, False],
        [False, False, False, True],
    ]
    # logit_scale is used: with scale 1 the logits are the cosines
    # row 0: .30 .25 .10 .915; row 1 (/0.406): .517 .542 .443 .493; row 2 (/0.548): .18 .37 .55 .73
    got = class_existence(img, text, logit_scale=1.0, threshold=0.5, top_k=3)
    assert got.tolist() == [
        [False, False, False, True],
        [True, True, False, False],
        [False, False, True, True],
    ]
    # threshold 24 by hand: row 1 all ~44-54, row 2 18/37/55/73
    got = class_existence(img, text, threshold=24.0, top_k=2)
    assert got[1:].tolist() == [[True, True, True, True], [False, True, True, True]]


def test_class_existence_inclusive_threshold():
    """A logit exactly at the threshold: present with the authors' ``>=``, not with ``>``."""
    text = torch.eye(3)
    img = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0]])  # cosines exactly 1 / .6 .8
    # threshold 0.8 (scale 1): row 0 has 1.0 > 0.8 either way; row 1's 0.8 is the tie
    strict = class_existence(img, text, logit_scale=1.0, threshold=0.8, top_k=2)
    inclusive = class_existence(img, text, logit_scale=1.0, threshold=0.8, top_k=2,
                                inclusive=True)
    assert strict.tolist() == [[True, False, False], [True, True, False]]  # row 1: top-2
    assert inclusive.tolist() == [[True, False, False], [False, True, False]]


def test_existence_defaults():
    assert EXISTENCE_DEFAULTS == {'voc': (23, 2), 'context': (20, 6), 'ade': (21, 5),
                                  'cityscapes': (21.5, 2), 'coco': (20, 8)}
