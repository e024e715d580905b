"""ReCLIP bias-rectification building blocks (paper Sec. 3.3-3.4, Eq. 2-5).

Small, pure pieces used by the rectification stage:

* :func:`rectify_logits` -- ``M = M_q - (M_r + M_p)`` (Eq. 2-3).
* :class:`PositionalBias` -- the 3-layer 3x3 conv + BN projection of the positional
  embedding that models the space-preference bias ``M_p`` (Sec. 3.3).
* :func:`gumbel_masks` -- hard Gumbel-softmax candidate masks (Eq. 4).
* :func:`masked_average_pool` -- mask-weighted pooling of the dense features (``Z_g``).
* :func:`contrastive_loss` -- the contrastive loss of Eq. 5.
* :func:`class_existence` -- which classes an image is taken to contain (Sec. 3.4).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

# Per-dataset (threshold, top_k) for class_existence, from the official ReCLIP code: a class is taken
# as present when logit_scale * cos(global image embedding, text embedding) > threshold; an
# image with no class above the threshold takes its top-k classes instead.
EXISTENCE_DEFAULTS = {
    'voc': (23, 2),
    'context': (20, 6),
    'ade': (21, 5),
    'cityscapes': (21.5, 2),
    'coco': (20, 8),
}


def rectify_logits(query: torch.Tensor, reference: torch.Tensor, positional: torch.Tensor,
                   subtract: bool = True) -> torch.Tensor:
    """Rectified logit map (Eq. 2-3).

    ``M_b = M_r + M_p*`` (Eq. 2) and ``M = M_q - M_b`` (Eq. 3). With ``subtract=False`` the
    bias is added instead (``M = M_q + M_b``, the paper's Table 5 ablation).

    Args:
        query: ``M_q``, (B, C, h, w) logits of the fixed Query text embeddings.
        reference: ``M_r``, (B, C, h, w) logits of the learnable Reference embeddings.
        positional: ``M_p``, (B, 1, h, w) (one map shared by all classes, paper; expanded
            to C maps as ``M_p*``) or (B, C, h, w) (one map per class, official code).
            Any shape broadcastable to ``query`` is accepted (e.g. (1, 1, h, w)).

    Returns:
        (B, C, h, w) rectified logits ``M``.
    """
    bias = reference + positional  # Eq. 2 (broadcasting implements the expansion M_p*)
    return query - bias if subtract else query + bias  # Eq. 3


class PositionalBias(nn.Module):
    """Space-preference bias from the positional embedding (Sec. 3.3, ``M_p``).

    Three 3x3 conv layers (padding 1), each followed by BatchNorm2d, with widths
    ``in_channels -> hidden[0] -> hidden[1] -> num_classes``: one bias map per class, as the
    authors' network (``model/model.py:288-314`` of dogehhh/ReCLIP), convolutions initialised
    kaiming-normal (fan_out, ReLU) and BatchNorm to weight 1, bias 0 as theirs.

    ``shared=True`` (an ablation only) outputs ONE map added to every class (the paper's
    ``M_p in R^{n x 1}`` read literally). It cannot learn: a value added to every class at a
    pixel changes neither the softmax, nor the Gumbel-softmax, nor the argmax, so the net gets
    (numerically) zero gradient from Eq. 5 and Table 4's "+PE" cannot happen with it.

    ReLU: the official code puts a ReLU after every BN (768->512->256->C). Here ``relu=True``
    (default) puts a ReLU after the first two BNs, i.e. between layers; the output of the
    last BN is left unbounded by default (``final_relu=False``) so the subtracted bias can take
    either sign, as the paper's description (conv + BN, no activation mentioned) allows.
    ``final_relu=True`` reproduces the official network exactly (non-negative bias).

    ``zero_init_output=True`` (default) starts the last BatchNorm at weight 0, so that ``M_p``
    is 0 at the start and rectification begins as plain CLIP: a per-class bias of unit variance
    next to cosine logits of about 0.1 would saturate the x1000 Gumbel-softmax and stop every
    gradient of Eq. 5 at the first step. ``False`` is the authors' initialisation (weight 1).

    Input: the ViT positional embedding resized to the patch grid, (1, D, h, w)
    (``ClipFeatures.pos_embed`` of maskclip's encoders). Output: (1, out, h, w), or
    (batch_size, out, h, w) when ``batch_size`` is given (an expanded view).
    """

    def __init__(self, in_channels: int = 768, num_classes: Optional[int] = None,
                 shared: bool = False, hidden: tuple[int, int] = (512, 256),
                 relu: bool = True, final_relu: bool = False, zero_init_output: bool = True):
        super().__init__()
        if not shared and num_classes is None:
            raise ValueError('num_classes is required: the bias has one map per class '
                             '(shared=True, one map for all, is an ablation that cannot learn)')
        self.shared = shared
        self.out_channels = 1 if shared else int(num_classes)
        widths = [in_channels, *hidden, self.out_channels]
        layers: list[nn.Module] = []
        for i in range(3):
            conv = nn.Conv2d(widths[i], widths[i + 1], 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
            nn.init.zeros_(conv.bias)
            last = i == 2
            norm = nn.BatchNorm2d(widths[i + 1])
            nn.init.constant_(norm.weight, 0.0 if last and zero_init_output else 1.0)
            nn.init.zeros_(norm.bias)
            layers += [conv, norm]
            if (relu and not last) or (final_relu and last):
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)

    def forward(self, pos_embed: torch.Tensor, batch_size: Optional[int] = None,
                batch_stats: bool = False) -> torch.Tensor:
        """``batch_stats=True`` normalises with the statistics of the input map itself, as a
        BatchNorm in training mode, whatever the module's mode, without touching the running
        statistics: the ReCLIP authors' distillation teacher (dogehhh/ReCLIP@99b64d7
        ``model/model.py:1124-1173``: running statistics not loaded, BN in training mode). A batch
        of identical maps has the statistics of one map, which is what is computed here."""
        if pos_embed.dim() == 3:
            pos_embed = pos_embed.unsqueeze(0)
        if batch_stats:
            out = pos_embed
            for layer in self.net:
                if isinstance(layer, nn.BatchNorm2d):
                    out = F.batch_norm(out, None, None, layer.weight, layer.bias, True, 0.0,
                                       layer.eps)
                else:
                    out = layer(out)
        else:
            out = self.net(pos_embed)
        if batch_size is not None:
            out = out.expand(batch_size, -1, -1, -1)
        return out


def gumbel_masks(logits: torch.Tensor, tau: float = 1.0, scale: float = 1000.0,
                 hard: bool = True, generator: Optional[torch.Generator] = None,
                 dim: int = 1) -> torch.Tensor:
    """Candidate class masks by Gumbel-softmax over the class dim (Eq. 4).

    ``y_soft = softmax((scale * logits + g) / tau)`` with ``g ~ Gumbel(0, 1)`` i.i.d.
    (official code: ``tau=1`` on logits scaled by 1000). With ``hard=True`` the forward value
    is the one-hot of ``argmax`` and gradients are the soft ones (straight-through:
    ``y_hard - y_soft.detach() + y_soft``). Written out (instead of
    ``F.gumbel_softmax``) so the noise can come from a seeded ``generator``.

    The arithmetic is float32 whatever the logits' dtype; the masks come back in that dtype.

    Args:
        logits: (B, C, h, w) rectified logits (class dim ``dim``, default 1).
    """
    dtype = logits.dtype if logits.is_floating_point() else torch.float32
    # In float32 whatever the input (under --amp the logits are fp16 / bf16): the noise, the
    # x1000 scaling and the softmax in half precision flip 0.3% (fp16) / 1.8% (bf16) of the
    # argmaxes against fp32. Autocast is off here so that nothing is cast back down.
    compute = torch.float64 if dtype == torch.float64 else torch.float32  # at least fp32
    with torch.autocast(logits.device.type, enabled=False):
        logits32 = logits.to(compute)
        u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=compute)
        # -log(-log U), U clamped away from 0 and 1 so the noise stays finite.
        tiny = torch.finfo(u.dtype).tiny
        gumbels = -torch.log(-torch.log(u.clamp(min=tiny, max=1.0 - 1e-7)))
        y_soft = ((scale * logits32 + gumbels) / tau).softmax(dim)
        if not hard:
            return y_soft.to(dtype)
        index = y_soft.argmax(dim, keepdim=True)
        y_hard = torch.zeros_like(y_soft).scatter_(dim, index, 1.0)
        return (y_hard - y_soft.detach() + y_soft).to(dtype)


def masked_average_pool(features: torch.Tensor, masks: torch.Tensor,
                        eps: float = 1e-6) -> torch.Tensor:
    """Mask-weighted average of dense features per class (``Z_g``, Sec. 3.4).

    Args:
        features: (B, D, h, w) dense visual features ``Z``.
        masks: (B, C, h, w) candidate masks ``M_hat``.

    Returns:
        (B, C, D): ``sum_hw(mask * feat) / (sum_hw(mask) + eps)``.
    """
    num = torch.einsum('bchw,bdhw->bcd', masks, features)
    den = masks.sum(dim=(2, 3)).unsqueeze(-1)
    return num / (den + eps)


def contrastive_loss(pooled: torch.Tensor, text_embeddings: torch.Tensor,
                     present: torch.Tensor, temperature: float = 0.01) -> torch.Tensor:
    """Contrastive loss of Eq. 5.

    For every image b and every class k present in it, ``S_{k,j} = cos(pooled[b, k], t_j)``
    over all classes j, and the term is ``-log softmax_j(S_{k,j} / tau)[k]``. The loss is the
    mean over all (image, present class) pairs (Eq. 5 averages over the K pseudo labels of an
    image; pooling the pairs of a batch is the same for batch size 1).

    Args:
        pooled: (B, C, D) masked-average-pooled features.
        text_embeddings: (C, D) fixed Query text embeddings ``W_q``.
        present: (B, C) bool, the classes inferred to exist per image.
        temperature: ``tau`` (official: 0.01, i.e. CLIP's logit scale 100).

    Returns:
        Scalar loss; ``pooled.sum() * 0`` (graph kept) when no class is present anywhere.
    """
    present = present.bool()
    if not bool(present.any()):
        return pooled.sum() * 0
    feats = pooled[present]  # (N, D), pairs in (b, k) order
    targets = present.nonzero(as_tuple=True)[1]  # (N,) class index k of each pair
    sims = F.normalize(feats, dim=-1) @ F.normalize(text_embeddings, dim=-1).t()  # (N, C)
    return F.cross_entropy(sims / temperature, targets)


def authors_contrastive_loss(features: torch.Tensor, masks: torch.Tensor,
                             text_embeddings: torch.Tensor, present: torch.Tensor,
                             logit_scale: float = 100.0) -> torch.Tensor:
    """Eq. 5 as the authors' released code computes it (dogehhh/ReCLIP@99b64d7,
    ``model/model.py:368-385``), which differs from the paper's text in four ways:

    * each class's masked features are averaged over ALL ``h * w`` positions
      (``AdaptiveAvgPool2d(mask * feat)``), not over the mask's area;
    * the pooled vector is not L2-normalised: logits are ``logit_scale * pooled @ W_q^T`` (the
      per-pixel features are unit vectors before pooling);
    * the cross-entropy is averaged over the present classes of each image, then summed over the
      images and divided by the batch size (an image without present classes adds 0);
    * a present class with an empty mask is kept (its pooled vector is 0: uniform logits).

    Args:
        features: (B, D, h, w) dense features ``Z`` (normalised per position here).
        masks: (B, C, h, w) hard Gumbel masks.
        text_embeddings: (C, D) Query embeddings ``W_q``.
        present: (B, C) bool class existence.
        logit_scale: CLIP's logit scale (100).
    """
    feats = F.normalize(features, dim=1)
    h, w = feats.shape[-2:]
    pooled = torch.einsum('bchw,bdhw->bcd', masks, feats) / (h * w)
    present = present.bool()
    total = pooled.sum() * 0
    for b in range(pooled.shape[0]):
        classes = present[b].nonzero(as_tuple=True)[0]
        if len(classes):
            logits = logit_scale * pooled[b, classes] @ text_embeddings.to(pooled.dtype).t()
            total = total + F.cross_entropy(logits, classes)
    return total / pooled.shape[0]


@torch.no_grad()
def class_existence(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
                    logit_scale: float = 100.0, threshold: float = EXISTENCE_DEFAULTS['voc'][0],
                    top_k: int = EXISTENCE_DEFAULTS['voc'][1],
                    inclusive: bool = False) -> torch.Tensor:
    """Classes taken to exist in each image (Sec. 3.4, "class existence").

    ``logits = logit_scale * cos(global image embedding, text embedding)``; a class is
    present when its logit is higher than ``threshold`` (the paper's words), or at least
    ``threshold`` with ``inclusive=True`` (the authors' ``>=``, dogehhh/ReCLIP@99b64d7
    ``tools/pseudo_class.py:120``; it matters with their float16 logits, which take few
    distinct values); an image with no class present takes its ``top_k`` highest-scoring
    classes instead. Defaults: VOC, see :data:`EXISTENCE_DEFAULTS`.

    Args:
        image_embeddings: (B, D) global CLIP image embeddings.
        text_embeddings: (C, D) class text embeddings.

    Returns:
        (B, C) bool.
    """
    logits = logit_scale * (F.normalize(image_embeddings.float(), dim=-1)
                            @ F.normalize(text_embeddings.float(), dim=-1).t())
    return present_from_logits(logits, threshold, top_k, inclusive)


@torch.no_grad()
def present_from_logits(logits: torch.Tensor, threshold: float, top_k: int,
                        inclusive: bool = False) -> torch.Tensor:
    """(B, K) bool from (B, K) image-text logits: above ``threshold`` (``>=`` when
    ``inclusive``), else the image's ``top_k`` best classes (see :func:`class_existence`)."""
    present = logits >= threshold if inclusive else logits > threshold
    empty = ~present.any(dim=1)
    if bool(empty.any()):
        k = min(int(top_k), logits.shape[1])
        idx = logits[empty].topk(k, dim=1).indices
        fallback = torch.zeros_like(present[empty]).scatter_(1, idx, True)
        present[empty] = fallback
    return present
