"""MaskCLIP's decode head: a frozen text-embedding classifier plus KS / PD."""
from __future__ import annotations

from typing import Optional, Sequence, Union

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from maskclip.models.backbones.base import ClipFeatures
from maskclip.models.refinement import key_smooth, prompt_denoise
from maskclip.models.text_classifier import TextClassifier


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
        classifier = TextClassifier(class_names, clip, templates, normalize_features=True,
                                    cache_dir=text_cache_dir)
        super().__init__(**classifier.decode_head_sizes(num_classes, in_channels, channels),
                         dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        self.conv_seg = classifier  # the classifier is the frozen text embeddings
        self.class_names = classifier.class_names
        self.key_smoothing = key_smoothing
        self.ks_threshold = ks_threshold
        self.ks_key_norm = ks_key_norm
        self.prompt_denoising = prompt_denoising
        self.pd_threshold = pd_threshold

    def forward(self, inputs: ClipFeatures):
        """(B, K, h, w) cosine logits (smoothed confidences with key smoothing)."""
        logits = self.cls_seg(inputs.dense)
        if self.prompt_denoising:
            logits = prompt_denoise(logits, self.pd_threshold)
        if self.key_smoothing:
            logits = key_smooth(logits, inputs.keys, self.ks_threshold, self.ks_key_norm)
        return logits
