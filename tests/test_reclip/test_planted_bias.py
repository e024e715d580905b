"""ReCLIP rectification training removes a planted class-preference bias (synthetic task).

The CLIP image encoder is bypassed: a standalone ``ReCLIPRectificationHead`` (tiny random CLIP,
embed dim 32, classes ``cat/dog/grass/sky``, ``positional_shared=False``) reads synthetic
``ClipFeatures`` whose answer is known:

* every image is a 16x16 grid of a background class with one random rectangle of another
  class (so exactly two classes are present; ``existence=(inf, 2)`` makes the head take the
  top-2 classes of the global embedding, which are exactly the present ones);
* the Query embeddings ``W_q`` are replaced by orthonormal rows (``eye(4, 32)``) and
  ``dense = W_q[label] + 0.25 * N(0, I)``, ``global_embedding = mean(dense)``, ``pos_embed`` a
  fixed random (1, 64, 16, 16) map (the same for every image);
* the planted bias: ``DELTA = 0.8`` (cosine units) is added to the ``cat`` channel of the Query
  logits ``M_q`` (``head.conv_seg.forward`` is wrapped), so forward and loss both see it and
  ~92% of the pixels are predicted ``cat`` before training (true share ~22%);
* the last BatchNorm of ``PositionalBias`` starts with zero scale, so ``M_p`` starts at 0 and
  the untrained head is "no rectification".

Only the head's trainable parameters (Reference context + PositionalBias) are trained, with
Adam, on fresh random batches via ``head.loss`` (Eq. 5; ground truth never read). On a fixed
held-out set (4 x 16 images) the test measures, in eval mode, before and after training:

1. the contrastive loss ``loss_contrast`` -- must drop below 10% of its value before;
2. pixel accuracy of ``argmax(M)`` against the true labels -- must rise from < 0.4 to > 0.85;
3. bias removal: the *excess share* of the biased class,
   ``share(argmax(M) == cat) - share(label == cat)``; it must shrink by more than 75%
   (``1 - excess_after / excess_before > 0.75``);
4. the learned bias itself: mean over held-out pixels of ``M_b = M_r + M_p`` (recovered as
   ``M_q - M``) on the ``cat`` channel minus its mean on the other channels must come to a
   sizeable fraction of ``DELTA`` (between 0.35 and 1.5 times it).
"""
import time

import pytest
import torch
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from maskclip.models import ClipFeatures

from ..conftest import TINY_VIT

NAMES = ['cat', 'dog', 'grass', 'sky']
K = len(NAMES)
GRID = 16
BIASED = 0  # 'cat'
DELTA = 0.8
NOISE = 0.25
STEPS = 200
BATCH = 16
LR = 1e-2


def build_head(seed):
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmseg'):
        head = MODELS.build(dict(type='ReCLIPRectificationHead', class_names=NAMES,
                                 clip=dict(model_name=TINY_VIT, pretrained=None),
                                 templates='single', existence=(float('inf'), 2),
                                 positional_shared=False, use_reference=True))
    dim = head.conv_seg.text_embeddings.shape[1]
    assert head.conv_seg.text_embeddings.shape[0] == K  # one name per class
    head.conv_seg.text_embeddings = torch.eye(K, dim)  # orthonormal W_q
    with torch.no_grad():
        head.positional.net[-1].weight.zero_()  # M_p starts at 0 (its BN bias is learnable)
    query_logits = head.conv_seg.forward
    planted = torch.zeros(1, K, 1, 1)
    planted[0, BIASED] = DELTA
    head.conv_seg.forward = lambda feats: query_logits(feats) + planted  # the planted bias
    return head


def make_batch(batch, generator):
    labels = torch.empty(batch, GRID, GRID, dtype=torch.long)
    for b in range(batch):
        background, foreground = torch.randperm(K, generator=generator)[:2].tolist()
        labels[b] = background
        h, w = torch.randint(5, 12, (2,), generator=generator).tolist()
        y = int(torch.randint(0, GRID - h + 1, (1,), generator=generator))
        x = int(torch.randint(0, GRID - w + 1, (1,), generator=generator))
        labels[b, y:y + h, x:x + w] = foreground
    return labels


def features(labels, generator, pos_embed, dim):
    w_q = torch.eye(K, dim)
    dense = w_q[labels].permute(0, 3, 1, 2)
    dense = dense + NOISE * torch.randn(dense.shape, generator=generator)
    return ClipFeatures(dense=dense, keys=dense, global_embedding=dense.mean(dim=(2, 3)),
                        pos_embed=pos_embed)


def sample(batch, generator, pos_embed, dim):
    labels = make_batch(batch, generator)
    return features(labels, generator, pos_embed, dim), labels


@torch.no_grad()
def evaluate(head, heldout):
    head.eval()
    torch.manual_seed(12345)  # the (negligible, scale 1000) Gumbel noise of the loss
    loss = correct = pred_biased = true_biased = gap = 0.0
    for feats, labels in heldout:
        loss += float(head.loss(feats, [], {})['loss_contrast'])
        logits = head(feats)
        pred = logits.argmax(dim=1)
        correct += float((pred == labels).float().mean())
        pred_biased += float((pred == BIASED).float().mean())
        true_biased += float((labels == BIASED).float().mean())
        bias = head.cls_seg(feats.dense) - logits  # M_q - M = M_r + M_p
        others = [k for k in range(K) if k != BIASED]
        gap += float(bias[:, BIASED].mean() - bias[:, others].mean())
    head.train()
    n = len(heldout)
    return dict(loss=loss / n, acc=correct / n, excess=(pred_biased - true_biased) / n,
                pred_share=pred_biased / n, true_share=true_biased / n, gap=gap / n)


@pytest.mark.parametrize('seed', [0, 1])
def test_rectification_removes_planted_class_bias(seed):
    start = time.time()
    head = build_head(seed)
    dim = head.conv_seg.text_embeddings.shape[1]
    pos_in = head.positional.net[0].in_channels
    pos_embed = torch.randn(1, pos_in, GRID, GRID, generator=torch.Generator().manual_seed(7))
    held_gen = torch.Generator().manual_seed(999)
    heldout = [sample(16, held_gen, pos_embed, dim) for _ in range(4)]

    before = evaluate(head, heldout)
    # the planted bias dominates: most pixels go to the biased class
    assert before['pred_share'] > 0.8 and before['acc'] < 0.4, before
    assert before['loss'] > 1.0, before

    params = [p for p in head.parameters() if p.requires_grad]
    assert params and all(not p.requires_grad for p in head.conv_seg.parameters())
    optimizer = torch.optim.Adam(params, lr=LR)
    train_gen = torch.Generator().manual_seed(100 + seed)
    head.train()
    for _ in range(STEPS):
        feats, _ = sample(BATCH, train_gen, pos_embed, dim)
        loss = head.loss(feats, [], {})['loss_contrast']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    after = evaluate(head, heldout)
    report = f'before={before} after={after} ({time.time() - start:.1f}s)'
    print(report)
    assert after['loss'] < 0.1 * before['loss'], report
    assert after['acc'] > 0.85, report
    assert 1 - after['excess'] / before['excess'] > 0.75, report
    assert 0.35 * DELTA < after['gap'] < 1.5 * DELTA, report
