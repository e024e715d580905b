"""Training-free refinements of MaskCLIP's dense predictions (paper Sec. 3.3)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

#: confidences are ``softmax(CONFIDENCE_SCALE * cosine logits)`` as in the authors' code
CONFIDENCE_SCALE = 100.0
#: logit given to classes removed by prompt denoising (the authors' value; cosines are >= -1)
REMOVED_LOGIT = -100.0


def class_confidences(logits: torch.Tensor, scale: float = CONFIDENCE_SCALE) -> torch.Tensor:
    """(B, K, h, w) cosine logits -> per-position class confidences ``softmax(scale * logits)``
    (``scale`` 100 by default, CLIP's logit scale)."""
    return F.softmax(scale * logits, dim=1)


def prompt_denoise(logits: torch.Tensor, threshold: float = 0.5,
                   keep_top_class: bool = True, scale: float = CONFIDENCE_SCALE) -> torch.Tensor:
    """Prompt denoising: drop classes whose confidence ``softmax(scale * logits)`` is below
    ``threshold`` everywhere.

    A dropped class gets ``REMOVED_LOGIT`` at every position. With ``keep_top_class`` (default)
    the most confident class of an image is always kept, so an image never loses every class;
    ``keep_top_class=False`` is the authors' code (``maskclip_head.py:130-135``), where an image
    whose classes are all below the threshold has every logit at ``REMOVED_LOGIT`` (argmax: 0).
    """
    peak = class_confidences(logits, scale).flatten(2).amax(dim=2)  # (B, K)
    removed = peak < threshold
    if keep_top_class:
        removed[torch.arange(len(peak)), peak.argmax(dim=1)] = False
    return logits.masked_fill(removed[:, :, None, None], REMOVED_LOGIT)


def key_smooth(logits: torch.Tensor, keys: torch.Tensor, threshold: Optional[float] = None,
               key_norm: str = 'channel') -> torch.Tensor:
    """Key smoothing, Eq. 5: ``pred_i = sum_j cos(k_i, k_j) pred_j`` with ``pred = softmax(100 l)``.

    Args:
        logits: (B, K, h, w) cosine logits.
        keys: (B, D, h, w) key features of the last attention layer.
        threshold: smooth only positions whose top confidence is below it; ``None`` smooths all
            (``1.0`` reproduces the authors' code, which leaves fully confident positions alone).
        key_norm: ``'channel'`` L2-normalises each key vector (the paper's cosine); ``'token'``
            normalises along positions as the authors' code does.
    Returns:
        (B, K, h, w) smoothed class scores.
    """
    if key_norm not in ('channel', 'token'):
        raise ValueError(f"key_norm must be 'channel' or 'token', not '{key_norm}'.")
    b, k_classes, h, w = logits.shape
    conf = class_confidences(logits).flatten(2).transpose(1, 2)  # (B, hw, K)
    k = keys.flatten(2).transpose(1, 2)  # (B, hw, D)
    k = F.normalize(k, dim=2 if key_norm == 'channel' else 1)
    smoothed = torch.bmm(k, torch.bmm(k.transpose(1, 2), conf))  # (k k^T) conf, cheaper order
    if threshold is not None:
        keep = conf.amax(dim=2, keepdim=True) >= threshold
        smoothed = torch.where(keep, conf, smoothed)
    return smoothed.transpose(1, 2).reshape(b, k_classes, h, w)


def reduce_synonyms(logits: torch.Tensor, name_to_class: torch.Tensor,
                    num_classes: int) -> torch.Tensor:
    """(B, N, h, w) logits of N names -> (B, K, h, w): each class takes its best name."""
    if logits.shape[1] == num_classes:
        return logits
    b, _, h, w = logits.shape
    index = name_to_class.view(1, -1, 1, 1).expand_as(logits)
    out = logits.new_full((b, num_classes, h, w), float('-inf'))
    return out.scatter_reduce(1, index, logits, reduce='amax', include_self=True)
