"""The frozen teacher of MaskCLIP+ and ReCLIP distillation: one implementation of what every
teacher needs.

A teacher is a segmentor built from its config that only labels: no parameter trains
(``requires_grad=False``), it stays in eval mode whatever its owner does (frozen BN statistics,
no dropout), it runs under ``no_grad`` (in float16 autocast on a GPU when asked), it is left out
of the owner's checkpoints (rebuilt from CLIP and, for ReCLIP, its own checkpoint), and its
argmax becomes the batch's labels: the batch padding and, optionally, the ground truth's ignore
pixels (255) stay ignored.
"""
from __future__ import annotations

import contextlib

import torch
from mmseg.models.utils import resize
from mmseg.registry import MODELS

from maskclip.models.checkpointing import exclude_from_checkpoints
from maskclip.models.class_argmax import class_argmax

#: the label of pixels no loss sees
IGNORE = 255


def check_class_scores(model: torch.nn.Module, role: str) -> None:
    """A teacher must give one score per class from ``encode_decode``: refuse a head that keeps
    one score per name (``softmax_over='names'``, reduced only in ``predict``)."""
    head = getattr(model, 'decode_head', None)
    if getattr(head, 'softmax_over', 'classes') == 'names':
        raise ValueError(f"The {role} head has softmax_over='names' (one score per name, "
                         "reduced to classes only by predict); a teacher needs class scores: "
                         "set its decode_head.softmax_over='classes'.")


def build_frozen_teacher(cfg: dict, role: str) -> torch.nn.Module:
    """Build the teacher of ``cfg``, frozen and in eval mode; ``role`` names it in errors."""
    teacher = MODELS.build(cfg).requires_grad_(False).eval()
    check_class_scores(teacher, role)
    return teacher


class FrozenTeacherMixin:
    """For a segmentor with a frozen ``teacher`` (:func:`build_frozen_teacher`):
    :meth:`attach_teacher` keeps it out of checkpoints, ``train()`` leaves it in eval mode."""

    def attach_teacher(self, teacher: torch.nn.Module) -> None:
        self.teacher = teacher
        exclude_from_checkpoints(self, ['teacher'])

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self


def teacher_precision(inputs: torch.Tensor, amp: bool):
    """``no_grad``, and float16 autocast when ``amp`` and the inputs are on a GPU."""
    stack = contextlib.ExitStack()
    stack.enter_context(torch.no_grad())
    stack.enter_context(torch.autocast('cuda', dtype=torch.float16,
                                      enabled=amp and inputs.is_cuda))
    return stack


def ignore_batch_padding(labels: torch.Tensor, data_samples) -> torch.Tensor:
    """Set the labels of the batch padding (outside each image's ``img_shape``) to ignore."""
    for label, sample in zip(labels, data_samples):
        h, w = sample.img_shape[:2]
        label[:, h:] = IGNORE
        label[:, :, w:] = IGNORE
    return labels


def keep_ground_truth_ignore(labels: torch.Tensor, data_samples) -> torch.Tensor:
    """Set the labels to ignore where the ground truth is ignore (255): the MaskCLIP and ReCLIP
    authors' pseudo labels (``keep_gt_ignore``), which read the ground truth's ignore mask."""
    gt = torch.stack([sample.gt_sem_seg.data for sample in data_samples])
    return labels.masked_fill(gt.to(labels.device) == IGNORE, IGNORE)


def upsampled_argmax(logits: torch.Tensor, size, align_corners: bool = False) -> torch.Tensor:
    """(B, 1, H, W) class index of ``logits`` (B, K, h, w) bilinearly resized to ``size``.

    One image at a time: only one image's (K, H, W) full-resolution scores exist at once (a
    batch of eight 171-class 512 x 512 maps is 1.4 GB in float32). Bilinear resizing works
    channel by channel and image by image, so the labels equal the whole batch's.
    """
    size = tuple(int(s) for s in size)
    if tuple(logits.shape[-2:]) == size:
        return class_argmax(logits, keepdim=True)
    return torch.cat([
        class_argmax(resize(one[None], size=size, mode='bilinear',
                            align_corners=align_corners, warning=False), keepdim=True)
        for one in logits])


def argmax_pseudo_labels(logits: torch.Tensor, data_samples, size,
                         keep_gt_ignore: bool = False,
                         align_corners: bool = False) -> torch.Tensor:
    """(B, 1, H, W) labels of a batch: the argmax of ``logits`` resized bilinearly to ``size``
    (the batch's; :func:`upsampled_argmax`), its padding ignored, and with ``keep_gt_ignore``
    the ground truth's ignore pixels too."""
    labels = ignore_batch_padding(upsampled_argmax(logits, size, align_corners), data_samples)
    if keep_gt_ignore:
        labels = keep_ground_truth_ignore(labels, data_samples)
    return labels
