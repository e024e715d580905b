"""How the training-free protocol turns scores into labels: class probabilities, small-area
removal and background by threshold (SCLIP / ClearCLIP / NACLIP, and our per-class variant).

Scores arrive at the original image size, after window averaging, resizing and PAMR. Two ways
to make class probabilities out of them (``MaskClipHead(softmax_over=...)``):

* ``'classes'`` (our default): each class is scored by its best name first (the head's max over
  synonyms), then ``p = softmax(scores)`` over the K classes.
* ``'names'`` (the released code of SCLIP, ClearCLIP and NACLIP, e.g.
  wangf3014/SCLIP ``clip_segmentor.py:143-153``, sinahmr/NACLIP ``naclip.py:125-136``):
  ``q = softmax(scores)`` over ALL N name queries (synonyms and background stuff words
  included), then ``p_c = max_{n in names(c)} q_n``. These ``p`` do not sum to one, and a class
  with many names (background as 26 stuff words) takes probability mass from the others, so a
  threshold tuned on one rule is not the same setting on the other.

Then, optionally: :func:`drop_small_classes` (SCLIP's ``area_thd``) and
:func:`background_by_threshold` (``prob_thd``).
"""
from __future__ import annotations

import torch

from maskclip.models.class_argmax import class_argmax
from maskclip.models.refinement import reduce_synonyms

#: the two probability rules of ``MaskClipHead(softmax_over=...)``
SOFTMAX_OVER = ('classes', 'names')


def probabilities_over_names(name_scores: torch.Tensor, name_to_class: torch.Tensor,
                             num_classes: int) -> torch.Tensor:
    """(B, N, H, W) scores of N names -> (B, K, H, W) ``p_c = max_{n in c} softmax_n(scores)``."""
    probs = name_scores.float().softmax(dim=1)
    return reduce_synonyms(probs, name_to_class, num_classes)


def drop_small_classes(probs: torch.Tensor, area_threshold: float) -> torch.Tensor:
    """SCLIP's ``area_thd`` (wangf3014/SCLIP ``clip_segmentor.py:155-160``): a foreground class
    that is the argmax of fewer than ``area_threshold`` times the pixels predicted foreground
    (argmax not class 0) gets probability 0 everywhere, per image.

    A class is kept when ``count_c > area_threshold * sum_{c' >= 1} count_c'`` (strictly
    greater, as theirs). Class 0 (background) is never dropped. Returns a new tensor.
    """
    labels = class_argmax(probs)  # (B, H, W)
    counts = torch.stack([torch.bincount(image.flatten(), minlength=probs.shape[1])
                          for image in labels]).to(probs.dtype)  # (B, K)
    foreground = counts[:, 1:]
    keep = foreground > area_threshold * foreground.sum(dim=1, keepdim=True)
    scale = torch.cat([torch.ones_like(keep[:, :1]), keep], dim=1).to(probs.dtype)
    return probs * scale[:, :, None, None]


def background_by_threshold(probs: torch.Tensor, bg_threshold: float) -> torch.Tensor:
    """Pixels whose best foreground probability ``max_{c >= 1} p_c`` is below ``bg_threshold``
    become class 0: their ``p_0`` is set to 1, so that the argmax of the result is the label.

    The authors compare the best probability over all classes, background included
    (``seg_pred[probs.max(0) < prob_thd] = 0``); the labels are the same: where background is
    the argmax the pixel is 0 either way, elsewhere both maxima are the foreground one.
    """
    low = probs[:, 1:].amax(dim=1, keepdim=True) < bg_threshold
    return torch.cat([torch.where(low, torch.ones_like(probs[:, :1]), probs[:, :1]),
                      probs[:, 1:]], dim=1)
