"""MaskCLIP's decode head: a frozen text-embedding classifier plus KS / PD, and the options of the
later training-free protocol (logit scale, background by a probability threshold)."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS

from maskclip.models.backbones.base import ClipFeatures
from maskclip.models.background import (SOFTMAX_OVER, background_by_threshold,
                                        drop_small_classes, probabilities_over_names)
from maskclip.models.options import check_choice, check_flag, check_number
from maskclip.models.refinement import key_smooth, prompt_denoise
from maskclip.models.text_classifier import TextClassifier
from maskclip.text import has_shared_names, load_vocabulary, primary_names

#: "background as stuff words": the text prompts that SCLIP, ClearCLIP and NACLIP give the
#: background class of VOC21 / COCO-Object instead of the word "background" (their class files).
STUFF_WORDS = ('sky', 'wall', 'tree', 'wood', 'grass', 'road', 'sea', 'river', 'mountain', 'sands',
               'desk', 'bed', 'building', 'cloud', 'lamp', 'door', 'window', 'wardrobe', 'ceiling',
               'shelf', 'curtain', 'stair', 'floor', 'hill', 'rail', 'fence')
#: logit of a background class that has no text prompt (only the threshold predicts it): far below
#: any scaled cosine, and finite so that window averaging and bilinear resizing keep it exact
NO_PROMPT_LOGIT = -1e4
BACKGROUND = 'background'


def background_vocabulary(vocabulary, bg_words):
    """``(vocabulary to prompt, background has a prompt)`` for a ``bg_words`` setting.

    ``bg_words='stuff'`` takes :data:`STUFF_WORDS`, less those that name another class.
    """
    if bg_words is None:
        return vocabulary, True
    if vocabulary[0][0].lower() != BACKGROUND:
        raise ValueError(f"bg_words needs class 0 to be named '{BACKGROUND}'; the vocabulary "
                         f'starts with {vocabulary[0][0]!r}.')
    if isinstance(bg_words, str):
        if bg_words != 'stuff':
            raise ValueError(f"bg_words must be None, 'stuff' or a list of words, not "
                             f'{bg_words!r}.')
        taken = {name.lower() for names in vocabulary[1:] for name in names}
        bg_words = [word for word in STUFF_WORDS if word not in taken]
    words = tuple(str(word).strip() for word in bg_words)
    if not words:
        return vocabulary[1:], False
    return (words,) + tuple(vocabulary[1:]), True


def text_classifier_for(class_names, bg_words, bg_threshold, text: dict) -> tuple:
    """``(vocabulary, text classifier)`` of ``class_names``, the background prompted by
    ``bg_words``; ``text`` holds the CLIP, templates and cache directory. The classifier's
    ``bg_prompt`` says whether the background has a prompt."""
    vocabulary = load_vocabulary(class_names)
    prompted, bg_prompt = background_vocabulary(vocabulary, bg_words)
    if not bg_prompt and bg_threshold is None:
        raise ValueError('bg_words=[] leaves the background without a text prompt: set '
                         'bg_threshold so that the background can be predicted.')
    classifier = TextClassifier([list(names) for names in prompted], text['clip'],
                                text['templates'], normalize_features=True,
                                cache_dir=text['cache_dir'],
                                allow_shared_names=has_shared_names(vocabulary))
    classifier.bg_prompt = bg_prompt
    return vocabulary, classifier


@MODELS.register_module()
class MaskClipHead(BaseDecodeHead):
    """Classify dense CLIP features with text embeddings of the class prompts (a 1x1 conv).

    Features are L2-normalised, so logits are cosine similarities. Optional refinements:
    prompt denoising, then key smoothing (Eq. 5), as in the authors' code (both keep the
    authors' confidences ``softmax(100 * cosine)``).

    The training-free protocol of SCLIP / ClearCLIP / NACLIP adds (defaults leave MaskCLIP as is):

    * ``logit_scale``: the head returns ``logit_scale *`` its logits (after PD / KS), so that the
      softmax of the probability rules sees ``softmax(logit_scale * cosine)``. Argmax, window
      averaging, resizing and PAMR (all linear or order-preserving) are unaffected by it.
    * ``softmax_over``: how the segmentor turns the full-image scores into class probabilities
      (:mod:`maskclip.models.background`): ``'classes'`` (default; each class scored by its best
      name, softmax over classes) or ``'names'`` (softmax over every name, then the max per
      class: SCLIP's, ClearCLIP's and NACLIP's code). With ``'names'`` the head returns one
      channel per name (``out_channels`` = number of names) and the segmentor reduces them at
      the end, after window averaging, resizing and PAMR, as their code does.
    * ``area_threshold`` (SCLIP's ``area_thd``): a foreground class predicted on fewer than this
      fraction of the predicted foreground pixels of an image is removed (class 0 is the
      background, whatever its names, as for ``bg_threshold``)
      (:func:`~maskclip.models.background.drop_small_classes`).
    * ``bg_threshold``: a pixel whose highest foreground probability is below it becomes class 0
      (``'background'``) (:func:`~maskclip.models.background.background_by_threshold`).
    * ``bg_words``: the text prompts of class 0 (which must be named ``'background'``): ``None``
      keeps the vocabulary's own (e.g. the word "background"); ``'stuff'`` uses
      :data:`STUFF_WORDS` (less words naming another class); a list gives the words; an empty
      list gives background no prompt at all, so that only ``bg_threshold`` predicts it.

    :meth:`label_scores` applies the rules; the segmentor calls it on the scores at the original
    image size, and the argmax of its result is the prediction.

    Args:
        class_names: built-in vocabulary name, class-name file or list of classes (see
            :func:`maskclip.text.load_vocabulary`); synonyms are reduced by max.
        clip: the CLIP whose text encoder embeds the prompts (filled in by the segmentor).
        templates: ``'vild'`` (85 templates), ``'imagenet'`` (80), ``'single'`` or a list of
            ``'...{}...'`` strings.
        num_classes: optional; must equal the number of classes when given.
        key_smoothing / ks_threshold / ks_key_norm: see
            :func:`maskclip.models.refinement.key_smooth`.
        prompt_denoising / pd_threshold / pd_keep_top_class: see
            :func:`maskclip.models.refinement.prompt_denoise` (``pd_keep_top_class=False`` is the
            authors' code).
        logit_scale / softmax_over / area_threshold / bg_threshold / bg_words: see above.
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
                 pd_keep_top_class: bool = True,
                 logit_scale: float = 1.0,
                 bg_threshold: Optional[float] = None,
                 bg_words: Union[None, str, Sequence[str]] = None,
                 softmax_over: str = 'classes',
                 area_threshold: Optional[float] = None,
                 text_cache_dir: Optional[str] = None,
                 in_channels: Optional[int] = None,
                 channels: Optional[int] = None,
                 dropout_ratio: float = 0.0,
                 init_cfg=None,
                 **kwargs):
        owner = type(self).__name__
        check_flag(owner, 'key_smoothing', key_smoothing)
        check_number(owner, 'ks_threshold', ks_threshold, low=0, high=1, optional=True)
        check_choice(owner, 'ks_key_norm', ks_key_norm, ('channel', 'token'))
        check_flag(owner, 'prompt_denoising', prompt_denoising)
        check_number(owner, 'pd_threshold', pd_threshold, low=0, high=1)
        check_flag(owner, 'pd_keep_top_class', pd_keep_top_class)
        check_number(owner, 'logit_scale', logit_scale, low=0, low_open=True)
        check_number(owner, 'bg_threshold', bg_threshold, low=0, high=1, low_open=True,
                     optional=True)
        check_choice(owner, 'softmax_over', softmax_over, SOFTMAX_OVER)
        check_number(owner, 'area_threshold', area_threshold, low=0, high=1, high_open=True,
                     optional=True)
        check_number(owner, 'dropout_ratio', dropout_ratio, low=0, high=1, high_open=True)
        check_number(owner, 'num_classes', num_classes, low=1, integer=True, optional=True)
        if softmax_over == 'names' and (key_smoothing or prompt_denoising):
            raise ValueError("Key smoothing and prompt denoising refine class scores; with "
                             "softmax_over='names' the head keeps one score per name. Use "
                             "softmax_over='classes' with them.")
        text = dict(clip=clip, templates=templates, cache_dir=text_cache_dir)
        vocabulary, classifier = text_classifier_for(class_names, bg_words, bg_threshold, text)
        if num_classes is not None and num_classes != len(vocabulary):
            raise ValueError(f'num_classes={num_classes} but the class names hold '
                             f'{len(vocabulary)} classes; make them agree (or drop num_classes).')
        sizes = classifier.decode_head_sizes(None, in_channels, channels)
        sizes.update(num_classes=len(vocabulary), out_channels=len(vocabulary))
        super().__init__(**sizes, dropout_ratio=dropout_ratio, init_cfg=init_cfg, **kwargs)
        self._text = text
        self.bg_words, self.bg_threshold = bg_words, bg_threshold
        self.softmax_over = softmax_over
        self.key_smoothing = key_smoothing
        self.ks_threshold = ks_threshold
        self.ks_key_norm = ks_key_norm
        self.prompt_denoising = prompt_denoising
        self.pd_threshold = pd_threshold
        self.pd_keep_top_class = pd_keep_top_class
        self.logit_scale = float(logit_scale)
        self.area_threshold = area_threshold
        self._adopt(vocabulary, classifier)

    def _adopt(self, vocabulary, classifier) -> None:
        """Make ``classifier`` (of ``vocabulary``) the head's: classes, sizes, score channels."""
        self.conv_seg = classifier  # the classifier is the frozen text embeddings
        self.class_names = primary_names(vocabulary)
        self.bg_prompt = classifier.bg_prompt
        self.num_classes = self.out_channels = len(vocabulary)
        # score channel -> class: the classes themselves, or every name (after a promptless
        # background's channel)
        score_to_class = torch.arange(len(vocabulary))
        if self.softmax_over == 'names':
            names = classifier.name_to_class + (0 if self.bg_prompt else 1)
            score_to_class = names if self.bg_prompt else torch.cat([torch.zeros(1).long(),
                                                                     names])
            self.out_channels = len(score_to_class)
        self.register_buffer('score_to_class', score_to_class, persistent=False)

    def set_vocabulary(self, class_names) -> None:
        """Classify other classes (a built-in name, a class file or a list), with the same
        options (templates, background words, thresholds), on the head's device."""
        device = self.conv_seg.text_embeddings.device
        vocabulary, classifier = text_classifier_for(class_names, self.bg_words,
                                                     self.bg_threshold, self._text)
        self._adopt(vocabulary, classifier.to(device))
        self.score_to_class = self.score_to_class.to(device)

    def forward(self, inputs: ClipFeatures):
        """(B, K, h, w) cosine logits (smoothed confidences with key smoothing), times
        ``logit_scale``; a background without prompt gets :data:`NO_PROMPT_LOGIT`. With
        ``softmax_over='names'``: (B, N, h, w), one channel per name (see ``score_to_class``)."""
        if self.softmax_over == 'names':
            logits = self.conv_seg(inputs.dense, reduce_names=False)
        else:
            logits = self.cls_seg(inputs.dense)
        if self.prompt_denoising:
            logits = prompt_denoise(logits, self.pd_threshold, self.pd_keep_top_class)
        if self.key_smoothing:
            logits = key_smooth(logits, inputs.keys, self.ks_threshold, self.ks_key_norm)
        if self.logit_scale != 1.0:
            logits = logits * self.logit_scale
        if not self.bg_prompt:
            logits = torch.cat([logits.new_full(logits[:, :1].shape, NO_PROMPT_LOGIT), logits], 1)
        return logits

    @property
    def changes_labels(self) -> bool:
        """Whether :meth:`label_scores` does anything (else the argmax of the scores is it)."""
        return (self.softmax_over == 'names' or self.bg_threshold is not None
                or self.area_threshold is not None)

    def class_probabilities(self, seg_logits: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) scores of :meth:`forward` -> (B, K, H, W) class probabilities.

        ``'classes'``: softmax over the classes (over the foreground ones when the background
        has no prompt, its probability then being 0). ``'names'``: softmax over every name, then
        the max per class (:func:`~maskclip.models.background.probabilities_over_names`; a
        promptless background's channel gets probability 0).
        """
        if self.softmax_over == 'names':
            return probabilities_over_names(seg_logits, self.score_to_class, self.num_classes)
        if self.bg_prompt:
            return seg_logits.float().softmax(dim=1)
        fg = seg_logits[:, 1:].float().softmax(dim=1)
        return torch.cat([torch.zeros_like(fg[:, :1]), fg], dim=1)

    def label_scores(self, seg_logits: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) scores of :meth:`forward` at the original image size -> (B, K, H, W)
        scores whose argmax is the prediction.

        Unchanged without ``bg_threshold`` / ``area_threshold`` and with
        ``softmax_over='classes'``; else the class probabilities, then small classes removed,
        then background by threshold (class 0's probability set to 1 where it wins).
        """
        if not self.changes_labels:
            return seg_logits
        probs = self.class_probabilities(seg_logits)
        if self.area_threshold is not None:
            probs = drop_small_classes(probs, self.area_threshold)
        if self.bg_threshold is not None:
            probs = background_by_threshold(probs, self.bg_threshold)
        return probs
