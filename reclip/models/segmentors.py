"""ReCLIP's two segmentors: the rectified CLIP (stage 1) and its distilled student (stage 2)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint
from mmengine.logging import print_log
from mmengine.runner.checkpoint import load_checkpoint
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import add_prefix

from maskclip.models.checkpointing import exclude_from_checkpoints
from maskclip.models.segmentors import MaskClipSegmentor
from maskclip.models.segmentors.maskclip_plus import ignore_batch_padding
from maskclip.models.segmentors.maskclip_segmentor import with_attribute_test_cfg
from reclip.models.student_classifier import STUDENT_HEADS, RectifiedTextClassifier


def _image_l1_sum(student: torch.Tensor, teacher: torch.Tensor, size) -> torch.Tensor:
    """sum |up(student) - up(teacher)| of one image's (1, C, h, w) maps resized to ``size``."""
    up = F.interpolate(student, size=size, mode='bilinear', align_corners=False)
    target = F.interpolate(teacher, size=size, mode='bilinear', align_corners=False)
    return (up - target).abs().sum()


def feature_l1(student: torch.Tensor, teacher: torch.Tensor, size) -> torch.Tensor:
    """L_feat (Eq. 7): mean |up(student) - up(teacher)| with both bilinearly resized to ``size``.

    Computed one image at a time under activation checkpointing: only one image's (C, H, W)
    full-resolution maps exist at a time, in the forward and in the backward pass (a batch of
    512-channel 512 x 512 maps is several GB); the value and gradients are the batched mean's.
    """
    total = student.new_zeros(())
    for one_student, one_teacher in zip(student, teacher):
        one_student, one_teacher = one_student[None], one_teacher[None]
        if one_student.requires_grad:
            total = total + checkpoint(_image_l1_sum, one_student, one_teacher, size,
                                       use_reentrant=False)
        else:
            total = total + _image_l1_sum(one_student, one_teacher, size)
    return total / (student.shape[0] * student.shape[1] * size[0] * size[1])


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
class ReCLIPDistillSegmentor(EncoderDecoder):
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
    """

    def __init__(self, teacher: dict, backbone: dict, decode_head: dict,
                 teacher_checkpoint: Optional[str] = None,
                 student_head: str = 'query_reference',
                 feature_loss_weight: float = 0.5, text_loss_weight: float = 0.5,
                 normalize_features: bool = False, teacher_amp: bool = True,
                 feature_terms_grad: bool = True, **kwargs):
        if not isinstance(feature_terms_grad, bool):
            raise TypeError(f'feature_terms_grad must be True or False, not {feature_terms_grad!r}.')
        if student_head not in STUDENT_HEADS:
            raise ValueError(f"Unknown student_head '{student_head}'; choose one of "
                             f'{list(STUDENT_HEADS)}.')
        teacher_model = MODELS.build(teacher).requires_grad_(False).eval()
        head = teacher_model.decode_head
        decode_head = dict(decode_head, num_classes=head.num_classes,
                           out_channels=head.num_classes)
        super().__init__(backbone=backbone, decode_head=decode_head,
                         **with_attribute_test_cfg(kwargs))
        self.teacher = teacher_model
        exclude_from_checkpoints(self, ['teacher'])
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

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()
        return self

    @torch.no_grad()
    def teach(self, inputs: torch.Tensor):
        """The teacher's rectified logits (B, K, h, w) and CLIP features on the same batch."""
        if not self._teacher_loaded:
            raise RuntimeError('ReCLIP distillation needs the rectification checkpoint: run the '
                               'two-stage config (configs/reclip/reclip_*.py), or set '
                               'model.teacher_checkpoint=work_dirs/.../iter_N.pth.')
        x = renormalize(inputs, self.data_preprocessor, self.teacher.data_preprocessor)
        with torch.autocast('cuda', dtype=torch.float16,
                            enabled=self.teacher_amp and inputs.is_cuda):
            feats = self.teacher.extract_feat(x)
            logits = self.teacher.decode_head(feats)
        return logits.float(), feats

    # ------------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        """Eq. 8. The ground truth is never read: its slot carries the pseudo labels."""
        teacher_logits, teacher_feats = self.teach(inputs)
        size = inputs.shape[-2:]
        labels = resize(teacher_logits, size=size, mode='bilinear',
                        align_corners=False).argmax(dim=1, keepdim=True)
        ignore_batch_padding(labels, data_samples)
        for sample, label in zip(data_samples, labels):
            sample.gt_sem_seg.data = label

        feats = self.decode_head._forward_feature(self.extract_feat(inputs))
        seg_logits = self.decode_head.cls_seg(feats)
        losses = add_prefix(self.decode_head.loss_by_feat(seg_logits, data_samples), 'decode')
        # the authors' code detaches the features of both terms (feature_terms_grad=False)
        term_feats = feats if self.feature_terms_grad else feats.detach()
        if self.feature_loss_weight:
            losses['loss_feat'] = self.feature_loss_weight * feature_l1(
                term_feats, teacher_feats.dense.float(), size)
        if self.text_loss_weight:
            head = self.teacher.decode_head
            present = head.present_classes(teacher_feats.global_embedding.float(), data_samples)
            term_logits = seg_logits if self.feature_terms_grad else seg_logits.detach()
            losses['loss_text'] = self.text_loss_weight * head.text_guided_loss(
                term_logits, term_feats, present)
        return losses
