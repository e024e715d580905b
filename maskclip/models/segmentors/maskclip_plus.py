"""MaskCLIP+: a segmentation network trained on a frozen teacher's pseudo labels (paper Sec. 3.4)."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from maskclip.clip import clear_cache
from maskclip.models.options import check_flag, check_number
from maskclip.models.text_classifier import TextClassifier

from maskclip.models.teacher import (IGNORE, FrozenTeacherMixin, argmax_pseudo_labels,
                                     build_frozen_teacher, teacher_precision,
                                     upsampled_argmax)
from maskclip.utils.runtime import current_iteration

from .maskclip_segmentor import with_attribute_test_cfg
from .sliding import BatchedSlideInference

@MODELS.register_module()
class MaskClipPlusSegmentor(FrozenTeacherMixin, BatchedSlideInference, EncoderDecoder):
    """A student segmentor (e.g. DeepLabv2) learning from a frozen teacher (MaskCLIP).

    Every training step the teacher labels the same preprocessed batch under ``no_grad`` and in
    eval mode (fp16 on GPU); the student minimises its decode head's loss on those labels.

    * Annotation-free (``unseen_classes=None``): every pixel gets the pseudo label; the ground
      truth is never read (only the padding of the batch is ignored, from the image shapes).
      With ``keep_gt_ignore=True`` (the authors' released code) the ground truth's ignore mask
      IS read: its 255 pixels (VOC20 / Context59 background, VOC boundaries, COCO-Stuff
      unlabelled) stay ignored and only the others get pseudo labels.
    * Transductive zero-shot (``unseen_classes`` given): ground truth of seen classes is kept;
      pixels whose ground truth is an unseen class are treated as unlabelled and get a pseudo
      label restricted to the unseen classes. Which unseen class they were never matters.
    * Self-training: from iteration ``self_training_start`` on, the student's own (detached)
      predictions replace the teacher's (Algorithm 1).

    The decode head's ``conv_seg`` is replaced by a frozen text-embedding classifier, so the
    student stays open-vocabulary; the teacher is left out of checkpoints and rebuilt from CLIP.

    Args:
        teacher: config of the teacher segmentor (a ``MaskClipSegmentor``; any ``EncoderDecoder``
            works). Its ``decode_head.class_names`` defaults to the student's.
        text_classifier: ``dict(class_names=..., templates='vild', normalize_features=False,
            learnable_background=False)``; its ``clip`` defaults to the teacher's.
        unseen_classes: names or indices of the unseen classes (zero-shot setting).
        self_training_start: first iteration labelled by the student; ``None``: never.
        unseen_pseudo_labels: in the zero-shot setting, label the unseen pixels with pseudo
            labels (MaskCLIP+). ``False`` leaves them unlabelled (ignored): the "Adapted
            DeepLabv2" baseline of the paper's Table 3, trained on seen ground truth only.
        teacher_amp: run the teacher in float16 on CUDA.
        keep_gt_ignore: annotation-free setting only. ``False`` (the paper): every pixel is
            pseudo-labelled. ``True`` (the authors' code, ``maskclip_plus_head.py:166-208`` with
            ``LoadAnnotations(suppress_labels=...)``: only pixels whose ground truth is a class
            are relabelled): pixels that are 255 in the ground truth stay ignored.
    """

    def __init__(self, teacher: dict, text_classifier: dict, backbone: dict, decode_head: dict,
                 unseen_classes: Optional[Sequence[Union[str, int]]] = None,
                 self_training_start: Optional[int] = None, teacher_amp: bool = True,
                 unseen_pseudo_labels: bool = True, keep_gt_ignore: bool = False, **kwargs):
        owner = type(self).__name__
        for name, value in (('teacher_amp', teacher_amp),
                            ('unseen_pseudo_labels', unseen_pseudo_labels),
                            ('keep_gt_ignore', keep_gt_ignore)):
            check_flag(owner, name, value)
        check_number(owner, 'self_training_start', self_training_start, low=0, integer=True,
                     optional=True)
        text_classifier = dict(text_classifier)
        text_classifier.setdefault('clip', teacher.get('clip'))
        text_classifier.setdefault('normalize_features', False)
        classifier = TextClassifier(**text_classifier)
        if decode_head.get('num_classes') not in (None, classifier.num_classes):
            raise ValueError(f"decode_head.num_classes={decode_head['num_classes']} but the text "
                             f'classifier has {classifier.num_classes} classes; drop num_classes.')
        decode_head = dict(decode_head, num_classes=classifier.num_classes,
                           out_channels=classifier.num_classes)
        super().__init__(backbone=backbone, decode_head=decode_head,
                         **with_attribute_test_cfg(kwargs, type(self).__name__))
        if self.decode_head.channels != classifier.embed_dim:
            raise ValueError(
                f'decode_head.channels={self.decode_head.channels} must equal the CLIP embedding '
                f'size {classifier.embed_dim}: the head\'s features are classified by text '
                'embeddings.')
        self.decode_head.conv_seg = classifier
        self.class_names = classifier.class_names

        teacher = dict(teacher)
        if 'decode_head' in teacher:
            teacher['decode_head'] = dict(teacher['decode_head'])
            if teacher['decode_head'].get('class_names') is None:
                teacher['decode_head']['class_names'] = text_classifier['class_names']
        self.attach_teacher(build_frozen_teacher(teacher, 'MaskCLIP+ teacher'))
        teacher_classes = getattr(self.teacher, 'class_names', None)
        if teacher_classes is not None and len(teacher_classes) != classifier.num_classes:
            raise ValueError(f'The teacher predicts {len(teacher_classes)} classes, the student '
                             f'{classifier.num_classes}: give them the same vocabulary.')
        clear_cache()
        self.teacher_amp = teacher_amp
        self.self_training_start = self_training_start
        self.unseen_pseudo_labels = unseen_pseudo_labels
        self.keep_gt_ignore = keep_gt_ignore
        self.unseen_classes = None if unseen_classes is None else self._class_indices(unseen_classes)
        self._announced_student = False
        print_log('MaskCLIP+: pseudo labels from the teacher'
                  + (f' until iteration {self_training_start}, then from the student '
                     '(self-training)' if self_training_start is not None else '')
                  + ('; zero-shot with unseen classes '
                     f'{[self.class_names[i] for i in self.unseen_classes.tolist()]}'
                     if self.unseen_classes is not None else '; annotation-free')
                  + ('; pixels that the ground truth ignores (255) stay ignored '
                     '(keep_gt_ignore=True reads its ignore mask)'
                     if keep_gt_ignore and self.unseen_classes is None else ''),
                  logger='current')

    def set_vocabulary(self, classes) -> None:
        """Predict other classes: the student classifies by text embeddings, so a trained
        MaskCLIP+ stays open-vocabulary (a learned background is kept); the teacher follows.
        Zero-shot class lists are dropped (they index the old vocabulary)."""
        classifier = self.decode_head.conv_seg.with_vocabulary(classes)
        self.decode_head.conv_seg = classifier
        self.decode_head.num_classes = self.decode_head.out_channels = classifier.num_classes
        self.num_classes = self.out_channels = classifier.num_classes
        self.class_names = classifier.class_names
        if hasattr(self.teacher, 'set_vocabulary'):
            self.teacher.set_vocabulary(classes)
        self.unseen_classes = None

    def _class_indices(self, classes) -> torch.Tensor:
        lookup = {name.lower(): i for i, name in enumerate(self.class_names)}
        indices = []
        for item in classes:
            if isinstance(item, int):
                if not 0 <= item < len(self.class_names):
                    raise ValueError(f'Unseen class index {item} is out of range.')
                indices.append(item)
            elif item.lower() in lookup:
                indices.append(lookup[item.lower()])
            else:
                raise ValueError(f"Unseen class '{item}' is not in the vocabulary "
                                 f'{list(self.class_names)}.')
        if not indices:
            raise ValueError('unseen_classes is empty; use None for the annotation-free setting.')
        return torch.tensor(sorted(set(indices)))

    def labels_from_student(self) -> bool:
        """Whether this iteration's pseudo labels come from the student (self-training)."""
        if self.self_training_start is None or current_iteration() < self.self_training_start:
            return False
        if not self._announced_student:
            print_log(f'MaskCLIP+: iteration {current_iteration()}: self-training starts '
                      f'(self_training_start={self.self_training_start}); pseudo labels now '
                      'come from the student.', logger='current')
            self._announced_student = True
        return True

    def teacher_scores(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, K, h, w) float32 teacher logits at the teacher head's resolution: an
        ``EncoderDecoder``'s ``encode_decode`` without its final resize to the batch, which the
        pseudo labels do one image at a time (:func:`~maskclip.models.teacher.upsampled_argmax`).
        A teacher without ``extract_feat`` / ``decode_head`` gives its ``encode_decode``."""
        with teacher_precision(inputs, self.teacher_amp):
            if hasattr(self.teacher, 'extract_feat') and hasattr(self.teacher, 'decode_head'):
                scores = self.teacher.decode_head(self.teacher.extract_feat(inputs))
            else:
                shape = tuple(inputs.shape[-2:])
                metas = [dict(img_shape=shape, pad_shape=shape, ori_shape=shape)] * len(inputs)
                scores = self.teacher.encode_decode(inputs, metas)
        return scores.float()

    def teacher_align_corners(self) -> bool:
        """The ``align_corners`` of the teacher head's resize (False without a head)."""
        head = getattr(self.teacher, 'decode_head', None)
        return getattr(head, 'align_corners', False)

    def teacher_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, K, H, W) teacher logits on the batch, at the batch's size: the teacher's
        ``encode_decode`` (:meth:`teacher_scores` bilinearly resized as its head does)."""
        scores = self.teacher_scores(inputs)
        if scores.shape[-2:] == inputs.shape[-2:]:
            return scores
        return resize(scores, size=inputs.shape[-2:], mode='bilinear',
                      align_corners=self.teacher_align_corners())

    def teacher_predict(self, inputs: torch.Tensor, data_samples):
        """The teacher's labels as training computes them (:meth:`teacher_logits` on the
        batch), brought to each image's original size like a prediction (padding removed,
        bilinear resize, argmax): what tools/export_pseudo_labels.py writes."""
        logits = self.teacher_logits(inputs)
        return EncoderDecoder.postprocess_result(self, logits, data_samples)

    @torch.no_grad()
    def pseudo_ground_truth(self, inputs, student_logits, data_samples) -> torch.Tensor:
        """(B, 1, H, W) training labels: pseudo labels merged with what ground truth may be used."""
        size = inputs.shape[-2:]
        if self.unseen_classes is not None and not self.unseen_pseudo_labels:
            gt = torch.stack([sample.gt_sem_seg.data for sample in data_samples])
            unseen = self.unseen_classes.to(gt.device)
            return torch.where(torch.isin(gt, unseen), torch.full_like(gt, IGNORE), gt)
        if self.labels_from_student():
            logits, align_corners = student_logits, self.align_corners
        else:
            logits, align_corners = self.teacher_scores(inputs), self.teacher_align_corners()
        if self.unseen_classes is None:
            return argmax_pseudo_labels(logits, data_samples, size, self.keep_gt_ignore,
                                        align_corners)
        unseen = self.unseen_classes.to(logits.device)
        fill = unseen[upsampled_argmax(logits[:, unseen], size, align_corners)]
        gt = torch.stack([sample.gt_sem_seg.data for sample in data_samples]).to(fill.device)
        return torch.where(torch.isin(gt, unseen), fill, gt)

    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        x = self.extract_feat(inputs)
        seg_logits = self.decode_head(x)
        labels = self.pseudo_ground_truth(inputs, seg_logits.detach(), data_samples)
        for sample, label in zip(data_samples, labels):
            sample.gt_sem_seg.data = label
        losses = add_prefix(self.decode_head.loss_by_feat(seg_logits, data_samples), 'decode')
        if self.with_auxiliary_head:
            losses.update(self._auxiliary_head_forward_train(x, data_samples))
        losses['pseudo_from_student'] = seg_logits.new_tensor(float(self.labels_from_student()))
        return losses

