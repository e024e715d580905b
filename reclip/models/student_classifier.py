"""The distillation student's classifier: the rectification stage's heads, fixed (Sec. 3.5)."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from reclip.models.rectification import rectify_logits

#: Table 6 of the paper: which inherited terms the student's classifier uses.
STUDENT_HEADS = {
    'original': None,  # DeepLabv2's own learnable 1x1 classifier
    'query': dict(use_reference=False, use_positional=False),
    'query_reference': dict(use_reference=True, use_positional=False),  # the paper's choice
    'query_reference_pe': dict(use_reference=True, use_positional=True),
}


class RectifiedTextClassifier(nn.Module):
    """``M^D = Z^ W_q - (Z^ W_r + M_p)``: the Query and Reference heads of a trained
    :class:`~reclip.models.rectification_head.ReCLIPRectificationHead`, frozen, applied to the
    student's features (paper Sec. 3.5, Table 6).

    ``W_q`` is the frozen text classifier itself (shared, never checkpointed); ``W_r`` and the
    positional-bias map are copied into buffers when built, so a distilled checkpoint is
    self-contained: evaluating it needs neither the teacher nor its checkpoint.

    Args:
        head: the trained rectification head (its reference context already loaded).
        pos_embed: (1, D, h, w) CLIP positional embedding on the patch grid, when
            ``use_positional`` (``ClipFeatures.pos_embed``).
        normalize_features: cosine logits (True) or dot products of the raw student features
            with the unit text embeddings (False, as MaskCLIP+'s student).
    """

    def __init__(self, head, use_reference: bool = True, use_positional: bool = False,
                 pos_embed: torch.Tensor = None, normalize_features: bool = False):
        super().__init__()
        if head.query_prompt is not None:
            raise ValueError('Distillation inherits the fixed Query head; this teacher was '
                             'trained with learnable_query=True (the Table 3 ablation, evaluated '
                             'after rectification only).')
        if use_reference and head.reference_prompt is None:
            raise ValueError("student_head uses the Reference head but the teacher was trained "
                             "with use_reference=False; choose student_head='query'.")
        if use_positional and head.positional is None:
            raise ValueError("student_head uses the PE projection but the teacher was trained with "
                             "use_positional=False; choose 'query_reference'.")
        self.query = copy.deepcopy(head.conv_seg)  # W_q (a copy: the teacher keeps cosines)
        self.query.normalize_features = normalize_features
        self.use_reference = use_reference
        self.use_positional = use_positional
        self.subtract = head.subtract
        self.normalize_features = normalize_features
        num_classes, dim = head.num_classes, head.conv_seg.embed_dim
        self.register_buffer('reference_embeddings', torch.zeros(num_classes, dim))
        self.register_buffer('positional_logits', None)
        if use_positional:
            if pos_embed is None:
                raise ValueError('use_positional needs the teacher\'s positional embedding.')
            # M_p does not depend on the image: computed once, stored (1, 1 or K, h, w).
            self.positional_logits = torch.zeros(
                1, head.positional.out_channels, *pos_embed.shape[-2:])
        self.refresh(head, pos_embed)

    @torch.no_grad()
    def refresh(self, head, pos_embed: torch.Tensor = None) -> None:
        """Copy ``W_r`` (and ``M_p``) from the rectification head (after it loaded its weights)."""
        was_training = head.training
        head.eval()
        if self.use_reference:
            self.reference_embeddings.copy_(head.reference_embeddings())
        if self.use_positional:
            self.positional_logits.copy_(head.positional(pos_embed.to(
                self.positional_logits.dtype), batch_size=1))
        head.train(was_training)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        m_q = self.query(feats)
        zero = feats.new_zeros(())
        m_r, m_p = zero, zero
        if self.use_reference:
            unit = F.normalize(feats, dim=1) if self.normalize_features else feats
            m_r = torch.einsum('bchw,kc->bkhw', unit, self.reference_embeddings.to(feats.dtype))
        if self.use_positional:
            m_p = F.interpolate(self.positional_logits.to(feats.dtype), size=feats.shape[-2:],
                                mode='bilinear', align_corners=False)
        return rectify_logits(m_q, m_r, m_p, subtract=self.subtract)

    def extra_repr(self) -> str:
        return (f'use_reference={self.use_reference}, use_positional={self.use_positional}, '
                f'normalize_features={self.normalize_features}')
