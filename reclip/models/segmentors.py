"""ReCLIP's two segmentors: the rectified CLIP (stage 1) and its distilled student (stage 2)."""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from maskclip.models.checkpointing import exclude_from_checkpoints
from maskclip.models.options import check_flag, check_number
from maskclip.models.refinement import prompt_denoise
from maskclip.models.segmentors import MaskClipSegmentor
from maskclip.models.segmentors.maskclip_segmentor import with_attribute_test_cfg
from maskclip.models.segmentors.sliding import BatchedSlideInference
from maskclip.models.teacher import (IGNORE, FrozenTeacherMixin, argmax_pseudo_labels,
                                     build_frozen_teacher, teacher_precision)
from reclip.models.student_classifier import STUDENT_HEADS, RectifiedTextClassifier

#: the authors' L_text logit scale: ``clip_model.logit_scale`` read without ``.exp()``
#: (dogehhh/ReCLIP@99b64d7 ``model/model.py:1115, 1327``), i.e. ln(100)
AUTHORS_TEXT_LOGIT_SCALE = math.log(100.0)


#: channels upsampled at a time by the distillation terms: with 512-channel features at
#: 512 x 512, a chunk of 64 is a 64 MB map instead of 512 MB per image
CHANNEL_CHUNK = 64


def _chunk_l1_sum(student: torch.Tensor, teacher: torch.Tensor, size,
                  mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """sum |up(student) - up(teacher)| of (1, c, h, w) maps resized to ``size``, over the pixels
    of ``mask`` (H, W) when given."""
    up = F.interpolate(student, size=size, mode='bilinear', align_corners=False)
    target = F.interpolate(teacher, size=size, mode='bilinear', align_corners=False)
    diff = (up - target).abs()
    return diff.sum() if mask is None else (diff * mask.to(diff.dtype)).sum()


def feature_l1(student: torch.Tensor, teacher: torch.Tensor, size,
               mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    """L_feat (Eq. 7): mean |up(student) - up(teacher)| with both bilinearly resized to ``size``.

    ``mask`` (B, H, W) bool restricts the mean to its pixels (the authors' ``F.l1_loss`` on the
    pixels whose pseudo label is not 255, dogehhh/ReCLIP@99b64d7 ``model/model.py:1314-1315``);
    no pixel in the mask gives 0.

    Bilinear resizing works channel by channel, so the sum is taken one image and
    :data:`CHANNEL_CHUNK` channels at a time, each under activation checkpointing when it needs
    a gradient: only one chunk's full-resolution maps exist at a time, in the forward and in the
    backward pass (a batch of 512-channel 512 x 512 maps is several GB); the value and gradients
    are the batched mean's.
    """
    total = student.new_zeros(())
    for index, (one_student, one_teacher) in enumerate(zip(student, teacher)):
        one_mask = None if mask is None else mask[index]
        for start in range(0, student.shape[1], CHANNEL_CHUNK):
            chunk = slice(start, start + CHANNEL_CHUNK)
            args = (one_student[None, chunk], one_teacher[None, chunk], size, one_mask)
            if one_student.requires_grad:
                total = total + checkpoint(_chunk_l1_sum, *args, use_reentrant=False)
            else:
                total = total + _chunk_l1_sum(*args)
    pixels = student.shape[0] * size[0] * size[1] if mask is None else int(mask.sum())
    return total / max(pixels * student.shape[1], 1)


def authors_text_term(feats: torch.Tensor, labels: torch.Tensor, present: torch.Tensor,
                      text_embeddings: torch.Tensor,
                      logit_scale: float = AUTHORS_TEXT_LOGIT_SCALE) -> torch.Tensor:
    """L_text as the authors' released distillation computes it (dogehhh/ReCLIP@99b64d7
    ``model/model.py:1317-1329``): for each image and each class it is taken to contain, the
    student's (unnormalised) features, bilinearly resized to the labels' size, are masked by the
    PSEUDO LABEL of that class (not by Gumbel masks of the student's logits) and averaged over
    ALL pixels; ``logit_scale * pooled @ W_q^T`` against the class; cross-entropy averaged over
    the image's classes, summed over the images, divided by the batch size.

    Args:
        feats: (B, C, h, w) student features.
        labels: (B, 1, H, W) or (B, H, W) pseudo labels (255: none).
        present: (B, K) bool class existence.
        text_embeddings: (K, C) Query embeddings ``W_q``.
    """
    labels = labels.reshape(labels.shape[0], *labels.shape[-2:])
    size = labels.shape[-2:]
    total = feats.new_zeros(())
    for one_feats, one_labels, one_present in zip(feats, labels, present.bool()):
        classes = one_present.nonzero(as_tuple=True)[0].to(labels.device)
        if not len(classes):
            continue
        masks = (one_labels[None] == classes[:, None, None]).to(feats.dtype)  # (n, H, W)
        pooled = torch.cat([  # (n, C), CHANNEL_CHUNK channels upsampled at a time
            torch.einsum('nhw,chw->nc', masks, F.interpolate(
                one_feats[None, start:start + CHANNEL_CHUNK], size=size, mode='bilinear',
                align_corners=False)[0])
            for start in range(0, feats.shape[1], CHANNEL_CHUNK)], dim=1) / (size[0] * size[1])
        logits = logit_scale * pooled @ text_embeddings.to(pooled.dtype).t()
        total = total + F.cross_entropy(logits, classes)
    return total / feats.shape[0]


def refuse_other_vocabulary(model, classes, why: str) -> None:
    """A ReCLIP model learned per-class weights: ``set_vocabulary`` accepts its own classes
    only (a no-op), anything else is a clear error."""
    from maskclip.text import load_vocabulary, primary_names
    wanted = list(primary_names(load_vocabulary(classes)))
    if wanted != list(model.class_names):
        raise ValueError(f'{type(model).__name__} {why}: it predicts only its own '
                         f'{len(model.class_names)} classes, in their order '
                         f'({", ".join(list(model.class_names)[:6])}, ...); it cannot take '
                         f'{len(wanted)} other ones.')


@MODELS.register_module()
class ReCLIPRectificationSegmentor(MaskClipSegmentor):
    """Frozen MaskCLIP ViT + :class:`~reclip.models.ReCLIPRectificationHead` (Sec. 3.1-3.4).

    The CLIP image tower is frozen and rebuilt from CLIP's weights, so checkpoints hold only
    what is trained: the Reference context and the positional-bias net (a few MB).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.backbone.requires_grad_(False)
        exclude_from_checkpoints(self, ['backbone'])

    def set_vocabulary(self, classes) -> None:
        """Its own classes only: the positional bias has one learned map per class."""
        refuse_other_vocabulary(self, classes, 'learned one positional-bias map per class')


def renormalize(inputs: torch.Tensor, source, target) -> torch.Tensor:
    """Re-express a batch normalised by data preprocessor ``source`` in ``target``'s mean/std.

    The student is fed ImageNet statistics, the CLIP teacher expects CLIP's: the conversion is
    exact (both are affine maps of the same pixels).
    """
    if source.channel_conversion != target.channel_conversion:
        raise ValueError('The student and teacher data preprocessors disagree on bgr_to_rgb.')
    if source._enable_normalize:
        inputs = inputs * source.std + source.mean
    if target._enable_normalize:
        inputs = (inputs - target.mean) / target.std
    return inputs


@MODELS.register_module()
class ReCLIPDistillSegmentor(FrozenTeacherMixin, BatchedSlideInference, EncoderDecoder):
    """A student (DeepLabv2) distilled from the rectified CLIP (paper Sec. 3.5, Eq. 6-8).

    ``L = L_mask + alpha * L_feat + beta * L_text`` (Eq. 8):

    * ``L_mask`` (Eq. 6): cross-entropy against the rectified CLIP's pseudo labels (the decode
      head's ``loss_decode``, whose ``loss_weight`` weighs it).
    * ``L_feat`` (Eq. 7): L1 between the student's features (the head's output before its
      classifier) and the teacher's dense CLIP features, both bilinearly resized to the image.
    * ``L_text``: Eq. 5 on hard Gumbel masks of the student's own logits pooling its own
      features, against the Query text embeddings, for the classes present (teacher's class
      existence, or the teacher head's existence cache).

    The student's classifier is the teacher's Query and Reference heads, fixed, with logit
    subtraction (``student_head``, Table 6). The teacher is frozen, runs under ``no_grad`` and
    in eval mode (fp16 on CUDA), and stays out of the student's checkpoints.

    Args:
        teacher: config of a :class:`ReCLIPRectificationSegmentor` (the rectification stage's
            ``model``); its classes are the student's.
        teacher_checkpoint: the rectification stage's checkpoint (set by the two-stage config
            from the first stage's work dir). Needed for training, not for testing a distilled
            checkpoint (which holds ``W_r``).
        student_head: a key of ``STUDENT_HEADS``: ``'original'``, ``'query'``,
            ``'query_reference'`` (paper) or ``'query_reference_pe'``.
        feature_loss_weight / text_loss_weight: ``alpha`` / ``beta`` of Eq. 8 (0 turns a term
            off, Table 7).
        normalize_features: classify cosines instead of raw student features.
        teacher_amp: run the teacher in float16 on CUDA.
        feature_terms_grad: ``True`` (default, the paper's Eq. 8 and Table 7): ``L_feat`` and
            ``L_text`` train the student. ``False`` is the authors' released code
            (dogehhh/ReCLIP@99b64d7 ``model/model.py:1214``: ``feat = output.detach()`` feeds both
            terms), where only ``L_mask`` trains the student and the two terms are logged only;
            this contradicts the paper's Table 7 (see docs/reproduction.md).
        pseudo_label_pd: how the teacher's logits are prompt-denoised before they become pseudo
            labels. ``None`` (default): the teacher head's own test-time setting.
            ``dict(scale=10., threshold=0.5, keep_top_class=False)`` is the authors' (99b64d7
            ``model/model.py:1259-1264``: ``softmax(10 * M)``, a class below 0.5 everywhere
            is dropped, no class kept on purpose). Applied on the feature grid, before the
            logits are resized to the image.
        keep_gt_ignore: ``False`` (default, annotation-free): every pixel gets a pseudo label.
            ``True`` (the authors' code, ``utils/preprocess.py:156-158`` with
            ``model/model.py:1266-1270``): only pixels whose ground truth is a class do; pixels
            that are 255 in the ground truth (VOC20 / Context59 background, boundaries) stay
            ignored, so the ground truth's ignore mask IS read.
        teacher_pe_norm: ``'running'`` (default): the teacher's positional-bias BatchNorms use
            their running statistics (eval mode). ``'batch'``: the statistics of the bias map
            itself, as the authors' teacher (running statistics not loaded, BN in training mode,
            ``model/model.py:1124-1173``).
        distill_terms: ``'paper'`` (default): L_feat over every pixel, L_text = Eq. 5 on Gumbel
            masks of the student's logits. ``'authors'``: L_feat over the pixels with a pseudo
            label (:func:`feature_l1` with a mask) and L_text by :func:`authors_text_term`.
    """

    PE_NORMS = ('running', 'batch')
    DISTILL_TERMS = ('paper', 'authors')

    def __init__(self, teacher: dict, backbone: dict, decode_head: dict,
                 teacher_checkpoint: Optional[str] = None,
                 student_head: str = 'query_reference',
                 feature_loss_weight: float = 0.5, text_loss_weight: float = 0.5,
                 normalize_features: bool = False, teacher_amp: bool = True,
                 feature_terms_grad: bool = True, pseudo_label_pd: Optional[dict] = None,
                 keep_gt_ignore: bool = False, teacher_pe_norm: str = 'running',
                 distill_terms: str = 'paper', **kwargs):
        owner = type(self).__name__
        for name, value in (('feature_terms_grad', feature_terms_grad),
                            ('keep_gt_ignore', keep_gt_ignore),
                            ('normalize_features', normalize_features),
                            ('teacher_amp', teacher_amp)):
            check_flag(owner, name, value)
        for name, value in (('feature_loss_weight', feature_loss_weight),
                            ('text_loss_weight', text_loss_weight)):
            check_number(owner, name, value, low=0)
        if pseudo_label_pd is not None and 'threshold' in pseudo_label_pd:
            check_number(owner, "pseudo_label_pd['threshold']", pseudo_label_pd['threshold'],
                         low=0, high=1)
        if teacher_pe_norm not in self.PE_NORMS:
            raise ValueError(f'teacher_pe_norm must be one of {self.PE_NORMS}, not '
                             f'{teacher_pe_norm!r}.')
        if distill_terms not in self.DISTILL_TERMS:
            raise ValueError(f'distill_terms must be one of {self.DISTILL_TERMS}, not '
                             f'{distill_terms!r}.')
        if pseudo_label_pd is not None:
            unknown = set(pseudo_label_pd) - {'scale', 'threshold', 'keep_top_class'}
            if unknown or 'threshold' not in pseudo_label_pd:
                raise ValueError('pseudo_label_pd must be None or dict(threshold=..., [scale=...,'
                                 f' keep_top_class=...]); got {pseudo_label_pd!r}.')
        if student_head not in STUDENT_HEADS:
            raise ValueError(f"Unknown student_head '{student_head}'; choose one of "
                             f'{list(STUDENT_HEADS)}.')
        teacher_model = build_frozen_teacher(teacher, 'ReCLIP distillation teacher')
        head = teacher_model.decode_head
        decode_head = dict(decode_head, num_classes=head.num_classes,
                           out_channels=head.num_classes)
        super().__init__(backbone=backbone, decode_head=decode_head,
                         **with_attribute_test_cfg(kwargs, type(self).__name__))
        self.attach_teacher(teacher_model)
        embed_dim = head.conv_seg.embed_dim
        if self.decode_head.channels != embed_dim:
            raise ValueError(f'decode_head.channels={self.decode_head.channels} must equal the '
                             f'CLIP embedding size {embed_dim}: the student\'s features are '
                             'matched to CLIP features (L_feat) and text embeddings (L_text).')
        self.class_names = head.class_names
        self.teacher_checkpoint = teacher_checkpoint
        self.student_head = student_head
        self.feature_loss_weight = feature_loss_weight
        self.text_loss_weight = text_loss_weight
        self.teacher_amp = teacher_amp
        self.feature_terms_grad = feature_terms_grad
        self.pseudo_label_pd = None if pseudo_label_pd is None else dict(pseudo_label_pd)
        self.keep_gt_ignore = keep_gt_ignore
        self.teacher_pe_norm = teacher_pe_norm
        self.distill_terms = distill_terms
        head.positional_batch_stats = teacher_pe_norm == 'batch'
        self._teacher_loaded = False
        if teacher_checkpoint:
            self.load_teacher()
        switches = STUDENT_HEADS[student_head]
        if switches is not None:
            self.decode_head.conv_seg = RectifiedTextClassifier(
                head, pos_embed=self._teacher_pos_embed() if switches['use_positional'] else None,
                normalize_features=normalize_features, **switches)
        print_log(f'ReCLIP distillation: student head {student_head!r}, loss = L_mask + '
                  f'{feature_loss_weight} L_feat + {text_loss_weight} L_text; teacher '
                  f'checkpoint {teacher_checkpoint}', logger='current')

    def set_vocabulary(self, classes) -> None:
        """Its own classes only: the student's classifier holds the teacher's per-class
        rectification (W_r and the positional bias)."""
        refuse_other_vocabulary(self, classes, "classifies with the teacher's per-class "
                                'rectification')

    # ------------------------------------------------------------------ teacher
    def load_teacher(self) -> None:
        """Load the rectification checkpoint into the teacher (and refresh the student's W_r)."""
        load_checkpoint(self.teacher, self.teacher_checkpoint, map_location='cpu', strict=True,
                        logger='current')
        self.teacher.eval()
        self._teacher_loaded = True
        classifier = self.decode_head.conv_seg
        if isinstance(classifier, RectifiedTextClassifier):
            pos = self._teacher_pos_embed() if classifier.use_positional else None
            classifier.refresh(self.teacher.decode_head, pos)

    def init_weights(self):
        """mmengine initialises weights before training: the teacher keeps its checkpoint."""
        super().init_weights()
        if self.teacher_checkpoint:
            self.load_teacher()

    def _teacher_pos_embed(self) -> torch.Tensor:
        size = self.teacher.data_preprocessor.size or (224, 224)
        patch = self.teacher.backbone.patch_size
        return self.teacher.backbone.grid_pos_embed((size[0] // patch[0], size[1] // patch[1]))

    def teach(self, inputs: torch.Tensor):
        """The teacher's rectified logits (B, K, h, w) and CLIP features on the same batch."""
        if not self._teacher_loaded:
            raise RuntimeError('ReCLIP distillation needs the rectification checkpoint: run the '
                               'two-stage config (configs/reclip/reclip_*.py), or set '
                               'model.teacher_checkpoint=work_dirs/.../iter_N.pth.')
        x = renormalize(inputs, self.data_preprocessor, self.teacher.data_preprocessor)
        head = self.teacher.decode_head
        with teacher_precision(inputs, self.teacher_amp):
            feats = self.teacher.extract_feat(x)
            logits = head(feats, denoise=self.pseudo_label_pd is None)
        logits = logits.float()
        if self.pseudo_label_pd is not None:
            pd = self.pseudo_label_pd
            with torch.no_grad():
                logits = prompt_denoise(logits, pd['threshold'], pd.get('keep_top_class', True),
                                        pd.get('scale', 100.0))
        return logits, feats

    def pseudo_labels(self, teacher_logits: torch.Tensor, data_samples, size) -> torch.Tensor:
        """(B, 1, H, W) argmax of the teacher's logits resized to the batch; the batch padding
        (and, with ``keep_gt_ignore``, the ground truth's 255 pixels) set to 255."""
        return argmax_pseudo_labels(teacher_logits, data_samples, size, self.keep_gt_ignore)

    # ------------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        """Eq. 8. The ground truth is never read: its slot carries the pseudo labels."""
        teacher_logits, teacher_feats = self.teach(inputs)
        size = inputs.shape[-2:]
        labels = self.pseudo_labels(teacher_logits, data_samples, size)
        for sample, label in zip(data_samples, labels):
            sample.gt_sem_seg.data = label

        feats = self.decode_head._forward_feature(self.extract_feat(inputs))
        seg_logits = self.decode_head.cls_seg(feats)
        losses = add_prefix(self.decode_head.loss_by_feat(seg_logits, data_samples), 'decode')
        # the authors' code detaches the features of both terms (feature_terms_grad=False)
        term_feats = feats if self.feature_terms_grad else feats.detach()
        authors = self.distill_terms == 'authors'
        if self.feature_loss_weight:
            mask = labels[:, 0] != IGNORE if authors else None
            losses['loss_feat'] = self.feature_loss_weight * feature_l1(
                term_feats, teacher_feats.dense.float(), size, mask)
        if self.text_loss_weight:
            head = self.teacher.decode_head
            present = head.present_classes(teacher_feats.global_embedding.float(), data_samples)
            if authors:
                text = authors_text_term(term_feats, labels, present.to(labels.device),
                                         head.query_embeddings())
            else:
                term_logits = seg_logits if self.feature_terms_grad else seg_logits.detach()
                text = head.text_guided_loss(term_logits, term_feats, present)
            losses['loss_text'] = self.text_loss_weight * text
        return losses
