"""MaskCLIP's decode head: a frozen text-embedding classifier plus KS / PD."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from maskclip.clip import ClipSpec
from maskclip.models.backbones.base import ClipFeatures
from maskclip.models.refinement import key_smooth, prompt_denoise, reduce_synonyms
from maskclip.text import class_text_embeddings, load_vocabulary, primary_names, resolve_templates


@MODELS.register_module()
class MaskClipHead(BaseDecodeHead):
    """Classify dense CLIP features with text embeddings of the class prompts (a 1x1 conv).

    Features are L2-normalised, so logits are cosine similarities. Optional refinements:
    prompt denoising, then key smoothing (Eq. 5), as in the authors' code.

    Args:
        class_names: built-in vocabulary name, class-name file or list of classes (see
            :func:`maskclip.text.load_vocabulary`); synonyms are reduced by max.
        clip: the CLIP whose text encoder embeds the prompts (filled in by the segmentor).
        templates: ``'vild'`` (85 templates), ``'single'`` or a list of ``'...{}...'`` strings.
        num_classes: optional; must equal the number of classes when given.
        key_smoothing / ks_threshold / ks_key_norm: see :func:`maskclip.models.refinement.key_smooth`.
        prompt_denoising / pd_threshold: see :func:`maskclip.models.refinement.prompt_denoise`.
        text_cache_dir: where text embeddings are cached (default ``~/.cache/maskclip``).
    """

    def __init__(self,
                 class_names: Union[str, Sequence],
                 clip: Optional[dict] = None,
                 templates: Union[str, Sequence[str]] = 'vild',
                 num_classes: Optional[int] = None,
                 key_smoothing: bool = False,
                 ks_threshold: Optional[float] = None,
                 ks_key_norm: str = 'channel',
                 prompt_denoising: bool = False,
                 pd_threshold: float = 0.5,
                 text_cache_dir: Optional[str] = None,
                 in_channels: Optional[int] = None,
                 channels: Optional[int] = None,
                 dropout_ratio: float = 0.0,
                 init_cfg=None,
                 **kwargs):
        vocabulary = load_vocabulary(class_names)
        if num_classes is not None and num_classes != len(vocabulary):
            raise ValueError(
                f'num_classes={num_classes} but the class names hold {len(vocabulary)} classes '
                f'({class_names if isinstance(class_names, str) else "list"}); make them agree.')
        embeddings = class_text_embeddings(ClipSpec.from_cfg(clip), vocabulary,
                                           resolve_templates(templates), cache_dir=text_cache_dir)
        dim = embeddings.shape[1]
        for name, value in (('in_channels', in_channels), ('channels', channels)):
            if value not in (None, dim):
                raise ValueError(f'{name}={value} does not match the CLIP embedding size {dim}; '
                                 'leave it unset.')
        super().__init__(in_channels=dim, channels=dim, num_classes=len(vocabulary),
                         out_channels=len(vocabulary), dropout_ratio=dropout_ratio,
                         init_cfg=init_cfg, **kwargs)
        del self.conv_seg  # the classifier is the frozen text embeddings
        self.vocabulary = vocabulary
        self.class_names = primary_names(vocabulary)
        name_to_class = [i for i, names in enumerate(vocabulary) for _ in names]
        self.register_buffer('text_embeddings', embeddings, persistent=False)
        self.register_buffer('name_to_class', torch.tensor(name_to_class), persistent=False)
        self.key_smoothing = key_smoothing
        self.ks_threshold = ks_threshold
        self.ks_key_norm = ks_key_norm
        self.prompt_denoising = prompt_denoising
        self.pd_threshold = pd_threshold

    def cls_seg(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) features -> (B, K, h, w) cosine logits, max over each class's names."""
        feats = F.normalize(feats, dim=1)
        weight = self.text_embeddings.to(feats.dtype)[:, :, None, None]
        return reduce_synonyms(F.conv2d(feats, weight), self.name_to_class, self.num_classes)

    def forward(self, inputs: ClipFeatures) -> torch.Tensor:
        logits = self.cls_seg(inputs.dense)
        if self.prompt_denoising:
            logits = prompt_denoise(logits, self.pd_threshold)
        if self.key_smoothing:
            logits = key_smooth(logits, inputs.keys, self.ks_threshold, self.ks_key_norm)
        return logits
