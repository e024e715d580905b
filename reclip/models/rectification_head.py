"""ReCLIP's rectification-stage decode head (paper Sec. 3.2-3.4, Eq. 2-5).

``M = M_q - (M_r + M_p)``: the frozen Query classifier's cosine logits ``M_q`` minus the class-
preference bias ``M_r`` (cosines with the learnable Reference embeddings ``W_r``) and the
space-preference bias ``M_p`` (a conv projection of CLIP's positional embedding). Trained
annotation-free with the contrastive loss of Eq. 5 on Gumbel-softmax masks; ground truth is
never read. Everything CLIP-side is frozen: only the Reference context and the
:class:`~reclip.models.rectification.PositionalBias` parameters train.
"""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dist import get_rank
from mmengine.logging import print_log
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from maskclip.clip import load_clip
from maskclip.models.backbones.base import ClipFeatures
from maskclip.models.options import check_choice, check_flag, check_number
from maskclip.models.refinement import prompt_denoise
from maskclip.utils.runtime import current_iteration
from maskclip.models.text_classifier import TextClassifier
from reclip.models.rectification import (EXISTENCE_DEFAULTS, PositionalBias,
                                         authors_contrastive_loss, class_existence,
                                         contrastive_loss, gumbel_masks, masked_average_pool,
                                         rectify_logits)
from reclip.models.existence_cache import load_existence_cache
from reclip.models.reference_prompt import ReferencePrompt


def _resolve_existence(existence) -> Tuple[float, int]:
    if isinstance(existence, str):
        if existence not in EXISTENCE_DEFAULTS:
            raise ValueError(f"Unknown existence preset '{existence}'; choose one of "
                             f'{sorted(EXISTENCE_DEFAULTS)} or give (threshold, top_k).')
        existence = EXISTENCE_DEFAULTS[existence]
    threshold, top_k = existence
    return float(threshold), int(top_k)


@MODELS.register_module()
class ReCLIPRectificationHead(BaseDecodeHead):
    """Rectified CLIP logits ``M = M_q - (M_r + M_p)`` (Eq. 2-3), trained with Eq. 5.

    Consumes the :class:`~maskclip.models.backbones.base.ClipFeatures` of a frozen
    ``MaskClipViT`` (inside a ``MaskClipSegmentor``, which fills in ``clip``).

    Args:
        class_names: maskclip vocabulary (built-in name, file or list). Synonyms: ``M_q`` takes
            the max over a class's names; ``W_r``, class existence and the loss use the class's
            first (primary) name.
        clip: ``dict(model_name=..., pretrained=...)`` (filled in by the segmentor).
        templates: Query templates (``'vild'``, ``'single'`` or a list).
        learnable_query: replace the fixed Query embeddings by a learnable CoOp-style prompt
            (context initialised from ``'a photo of a'``), Table 3's ablation.
        use_reference / use_positional: include ``M_r`` / ``M_p`` (a disabled term is 0).
        reference_context_length / reference_init / reference_name_layout:
            ``context_length`` / ``init`` / ``name_layout`` of
            :class:`~reclip.models.reference_prompt.ReferencePrompt` (the authors: ``None`` /
            ``0`` / ``'authors'``).
        positional_shared: ``False`` (default): one ``M_p`` map per class, as the authors' code;
            ``True``: one map for all classes, an ablation that cannot learn (see
            :class:`~reclip.models.rectification.PositionalBias`).
        positional_in_channels: width of the positional embedding; default: the ViT's width.
        positional_final_relu / positional_zero_init: ``final_relu`` / ``zero_init_output`` of
            :class:`~reclip.models.rectification.PositionalBias` (the authors: ``True`` /
            ``False``).
        subtract: ``M = M_q - M_b`` (True) or ``M_q + M_b`` (Table 5 ablation).
        gumbel_tau / gumbel_scale: Eq. 4 (``softmax((scale * M + g) / tau)``).
        temperature: ``tau`` of Eq. 5.
        reference_norm: ``'row'`` (default, cosine logits) or ``'matrix'`` (the authors': ``W_r``
            divided by its Frobenius norm), see
            :meth:`~reclip.models.reference_prompt.ReferencePrompt.forward`.
        contrastive_rule: ``'paper'`` (default): Eq. 5 on mask-area means, cosine / ``tau``,
            mean over (image, present class) pairs, pairs with an empty mask left out;
            ``'authors'``: as their released code, see
            :func:`~reclip.models.rectification.authors_contrastive_loss` (logit scale
            ``1 / temperature``).
        existence: a key of ``EXISTENCE_DEFAULTS`` or a ``(threshold, top_k)`` tuple.
        existence_inclusive: a class at exactly the threshold is present (the authors' ``>=``);
            default ``False`` (the paper's "higher than"). See
            :func:`~reclip.models.rectification.class_existence`.
        existence_cache: a JSON file from ``tools/cache_class_existence.py`` (image file name ->
            present class indices) used instead of computing existence online.
        logit_scale: scale of the global-embedding cosines for class existence.
        prompt_denoising / pd_threshold / pd_scale / pd_keep_top_class: test-time prompt
            denoising of ``M`` on ``softmax(pd_scale * M)``, see
            :func:`~maskclip.models.refinement.prompt_denoise` (the authors' ReCLIP test:
            scale 100, no class kept on purpose, dogehhh/ReCLIP@99b64d7 ``tools/test.py:77-81``).
        text_cache_dir: where Query text embeddings are cached.
    """

    def __init__(self,
                 class_names: Union[str, Sequence],
                 clip: Optional[dict] = None,
                 templates: Union[str, Sequence[str]] = 'vild',
                 learnable_query: bool = False,
                 use_reference: bool = True,
                 reference_context_length: Optional[int] = None,
                 reference_init: Union[str, int] = 'X',
                 reference_name_layout: str = 'paper',
                 use_positional: bool = True,
                 positional_shared: bool = False,
                 positional_in_channels: Optional[int] = None,
                 positional_final_relu: bool = False,
                 positional_zero_init: bool = True,
                 subtract: bool = True,
                 gumbel_tau: float = 1.0,
                 gumbel_scale: float = 1000.0,
                 temperature: float = 0.01,
                 contrastive_rule: str = 'paper',
                 reference_norm: str = 'row',
                 existence: Union[str, Tuple[float, int]] = 'voc',
                 existence_cache: Optional[str] = None,
                 existence_inclusive: bool = False,
                 logit_scale: float = 100.0,
                 prompt_denoising: bool = False,
                 pd_threshold: float = 0.5,
                 pd_scale: float = 100.0,
                 pd_keep_top_class: bool = True,
                 text_cache_dir: Optional[str] = None,
                 num_classes: Optional[int] = None,
                 in_channels: Optional[int] = None,
                 channels: Optional[int] = None,
                 dropout_ratio: float = 0.0,
                 init_cfg=None,
                 **kwargs):
        if clip is None:
            raise ValueError('ReCLIPRectificationHead needs `clip` (dict(model_name=..., '
                             'pretrained=...)); the MaskClipSegmentor fills it in.')
        owner = type(self).__name__
        for name, value in (('learnable_query', learnable_query), ('use_reference', use_reference),
                            ('use_positional', use_positional),
                            ('positional_shared', positional_shared),
                            ('positional_final_relu', positional_final_relu),
                            ('positional_zero_init', positional_zero_init), ('subtract', subtract),
                            ('existence_inclusive', existence_inclusive),
                            ('prompt_denoising', prompt_denoising),
                            ('pd_keep_top_class', pd_keep_top_class)):
            check_flag(owner, name, value)
        for name, value in (('gumbel_tau', gumbel_tau), ('gumbel_scale', gumbel_scale),
                            ('temperature', temperature), ('logit_scale', logit_scale),
                            ('pd_scale', pd_scale)):
            check_number(owner, name, value, low=0, low_open=True)
        check_number(owner, 'pd_threshold', pd_threshold, low=0, high=1)
        check_number(owner, 'reference_context_length', reference_context_length, low=1,
                     integer=True, optional=True)
        check_choice(owner, 'reference_name_layout', reference_name_layout,
                     ReferencePrompt.NAME_LAYOUTS)
        check_choice(owner, 'contrastive_rule', contrastive_rule, ('paper', 'authors'))
        check_choice(owner, 'reference_norm', reference_norm, ('row', 'matrix'))
        check_number(owner, 'dropout_ratio', dropout_ratio, low=0, high=1, high_open=True)
        classifier = TextClassifier(class_names, clip, templates, normalize_features=True,
                                    cache_dir=text_cache_dir)
        super().__init__(**classifier.decode_head_sizes(num_classes, in_channels, channels),
                         dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        self.conv_seg = classifier  # the frozen Query classifier W_q
        self.conv_seg.requires_grad_(False)
        self.class_names = classifier.class_names
        # First-name row of every class: (K, C) unit Query embeddings for existence and Eq. 5.
        first_rows = [int(torch.nonzero(classifier.name_to_class == k)[0])
                      for k in range(classifier.num_classes)]
        self.register_buffer('query_rows', torch.tensor(first_rows), persistent=False)

        self.use_reference = use_reference
        self.use_positional = use_positional
        self.subtract = subtract
        self.gumbel_tau = gumbel_tau
        self.gumbel_scale = gumbel_scale
        self.temperature = temperature
        self.contrastive_rule = contrastive_rule
        self.reference_norm = reference_norm
        self.existence_threshold, self.existence_top_k = _resolve_existence(existence)
        self.existence_inclusive = bool(existence_inclusive)
        self.existence_cache = (load_existence_cache(existence_cache, self.class_names)
                                if existence_cache else None)
        self.logit_scale = logit_scale
        self.prompt_denoising = prompt_denoising
        self.pd_threshold = pd_threshold
        self.pd_scale = float(pd_scale)
        self.pd_keep_top_class = bool(pd_keep_top_class)
        #: normalise the positional bias with its own statistics (a distillation teacher option)
        self.positional_batch_stats = False

        self.reference_prompt = (ReferencePrompt(class_names, clip,
                                                 context_length=reference_context_length,
                                                 init=reference_init,
                                                 name_layout=reference_name_layout)
                                 if use_reference else None)
        self.query_prompt = (ReferencePrompt(class_names, clip,
                                             context_length=reference_context_length,
                                             init='a photo of a')
                             if learnable_query else None)
        if use_positional:
            if positional_in_channels is None:
                visual = load_clip(**dict(clip)).visual
                pos = getattr(visual, 'positional_embedding', None)
                if pos is None or pos.dim() != 2:
                    raise ValueError('Cannot infer positional_in_channels from this CLIP image '
                                     'tower (a ViT is expected); set it explicitly.')
                positional_in_channels = int(pos.shape[1])
            self.positional = PositionalBias(positional_in_channels, self.num_classes,
                                             shared=positional_shared,
                                             final_relu=positional_final_relu,
                                             zero_init_output=positional_zero_init)
        else:
            self.positional = None
        self._prompt_cache = {}  # prompt name -> (key, embeddings) in eval mode

    # ------------------------------------------------------------------ helpers
    def train(self, mode: bool = True):
        super().train(mode)
        self._prompt_cache = {}
        return self

    def _prompt_embeddings(self, name: str, norm: str = 'row') -> torch.Tensor:
        """(K, C) embeddings of a learnable prompt: recomputed in training, cached in eval."""
        prompt = getattr(self, name)
        if self.training:
            return prompt(norm)
        ctx = prompt.context
        key = (ctx.data_ptr(), ctx._version, ctx.device, ctx.dtype)
        cached = self._prompt_cache.get(name)
        if cached is None or cached[0] != key:
            with torch.no_grad():
                cached = self._prompt_cache[name] = (key, prompt(norm).detach())
        return cached[1]

    def query_embeddings(self) -> torch.Tensor:
        """(K, C) unit Query embeddings ``W_q`` (the first name of each class)."""
        if self.query_prompt is not None:
            return self._prompt_embeddings('query_prompt')
        return self.conv_seg.embedding_matrix()[self.query_rows]

    def reference_embeddings(self) -> torch.Tensor:
        """(K, C) ``W_r`` (normalised per ``reference_norm``): recomputed every call in
        training, cached in eval mode."""
        return self._prompt_embeddings('reference_prompt', self.reference_norm)

    def logit_maps(self, inputs: ClipFeatures, w_q: Optional[torch.Tensor] = None):
        """``(M_q, M_r, M_p)``; a disabled term is the scalar 0. ``w_q``: the Query embeddings
        when already computed (a learnable query costs a text-encoder pass)."""
        dense = inputs.dense
        if self.query_prompt is None:
            m_q = self.cls_seg(dense)
        else:
            w_q = self.query_embeddings() if w_q is None else w_q
            m_q = torch.einsum('bchw,kc->bkhw', F.normalize(dense, dim=1), w_q.to(dense.dtype))
        zero = dense.new_zeros(())
        m_r = zero
        if self.use_reference:
            w_r = self.reference_embeddings().to(dense.dtype)
            m_r = torch.einsum('bchw,kc->bkhw', F.normalize(dense, dim=1), w_r)
        m_p = zero
        if self.use_positional:
            m_p = self.positional(inputs.pos_embed.to(dense.dtype), batch_size=dense.shape[0],
                                  batch_stats=self.positional_batch_stats)
        return m_q, m_r, m_p

    # ------------------------------------------------------------------ mmseg API
    def forward(self, inputs: ClipFeatures, w_q: Optional[torch.Tensor] = None,
                denoise: bool = True) -> torch.Tensor:
        """(B, K, h, w) rectified logits ``M`` (Eq. 2-3), prompt-denoised at test time if set
        (``denoise=False`` skips it: a caller applying its own denoising)."""
        m_q, m_r, m_p = self.logit_maps(inputs, w_q)
        logits = rectify_logits(m_q, m_r, m_p, subtract=self.subtract)
        if denoise and self.prompt_denoising and not self.training:
            logits = prompt_denoise(logits, self.pd_threshold, self.pd_keep_top_class,
                                    self.pd_scale)
        return logits

    def present_classes(self, global_embedding: torch.Tensor, batch_data_samples,
                        w_q: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(B, K) bool class existence (Sec. 3.4): from the cache when given, else online."""
        if self.existence_cache is not None:
            return self.existence_cache.lookup(batch_data_samples, global_embedding.device)
        w_q = self.query_embeddings() if w_q is None else w_q
        return class_existence(global_embedding, w_q, self.logit_scale,
                               self.existence_threshold, self.existence_top_k,
                               self.existence_inclusive)

    @staticmethod
    def _gumbel_generator(device) -> torch.Generator:
        """Gumbel noise seeded by (training iteration, rank): runs are reproducible and a
        resumed run draws exactly what the uninterrupted one drew (torch's global RNG state is
        not in mmengine checkpoints)."""
        seed = 1_000_003 * current_iteration() + get_rank()
        return torch.Generator(device=device).manual_seed(seed)

    def text_guided_loss(self, logits: torch.Tensor, dense: torch.Tensor, present: torch.Tensor,
                         w_q: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Eq. 5 on hard Gumbel-softmax masks of ``logits`` (Eq. 4) pooling ``dense``.

        A present class whose hard mask is empty has no masked feature (its pooled vector is
        ``0 / eps``): it has no similarity to text, and the straight-through gradient through
        the pooling (``feat / eps``) and the normalisation of a zero vector (``1 / 1e-12``)
        explodes (~1e17 on a freshly initialised student: NaN weights after one step). Such
        (image, class) pairs are left out of the loss.
        """
        masks = gumbel_masks(logits, tau=self.gumbel_tau, scale=self.gumbel_scale,
                             generator=self._gumbel_generator(logits.device))
        w_q = self.query_embeddings() if w_q is None else w_q
        if self.contrastive_rule == 'authors':
            return authors_contrastive_loss(dense.to(masks.dtype), masks, w_q,
                                            present.to(masks.device), 1.0 / self.temperature)
        pooled = masked_average_pool(dense.to(masks.dtype), masks)
        present = present.to(masks.device).bool() & (masks.detach().sum(dim=(2, 3)) > 0)
        return contrastive_loss(pooled, w_q, present, self.temperature)

    def loss(self, inputs: ClipFeatures, batch_data_samples, train_cfg) -> dict:
        """Eq. 5 on Gumbel-softmax masks of ``M``; the ground truth is never read."""
        w_q = self.query_embeddings()  # once per step (a learnable query encodes text)
        present = self.present_classes(inputs.global_embedding, batch_data_samples, w_q)
        return dict(loss_contrast=self.text_guided_loss(self.forward(inputs, w_q), inputs.dense,
                                                        present, w_q))

    # ------------------------------------------------------------------ checkpoints
    def get_extra_state(self) -> torch.Tensor:
        """The vocabulary travels with the checkpoint, so a mismatch is caught on loading.

        Stored as UTF-8 bytes in a tensor: mmengine broadcasts whole state dicts between
        processes, which only works for tensors.
        """
        text = '\n'.join(self.class_names).encode('utf-8')
        return torch.tensor(list(text), dtype=torch.uint8)

    def set_extra_state(self, state: torch.Tensor) -> None:
        saved = bytes(state.tolist()).decode('utf-8').split('\n')
        if saved == list(self.class_names):
            return
        message = (f'This ReCLIP checkpoint was trained for {len(saved)} classes '
                   f'({saved[:5]}...), the config has {self.num_classes} '
                   f'({list(self.class_names)[:5]}...).')
        if self.positional is not None and self.positional.out_channels > 1:
            raise ValueError(message + ' Its positional bias has one map per class, so it only '
                             'fits its own vocabulary: use the class_names it was trained with.')
        print_log(message + ' The Reference context and the shared positional bias are '
                  'class-agnostic, so they are used with the new vocabulary.', logger='current',
                  level=logging.WARNING)
