"""Text embeddings of a vocabulary used as a frozen 1x1 convolution (MaskCLIP, MaskCLIP+)."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from maskclip.clip import ClipSpec
from maskclip.models.options import check_choice, check_flag
from maskclip.models.refinement import reduce_synonyms
from maskclip.text import class_text_embeddings, load_vocabulary, primary_names, resolve_templates


class TextClassifier(nn.Module):
    """Classify (B, C, h, w) features by their dot products with class text embeddings.

    The embeddings are frozen buffers, not checkpointed, so a trained model stays
    open-vocabulary: build it with another class list and it predicts those classes.
    A class's score is the max over its synonyms.

    Args:
        class_names: built-in vocabulary name, class-name file or list (see ``load_vocabulary``).
        clip: ``dict(model_name=..., pretrained=...)`` whose text encoder embeds the prompts.
        templates: ``'vild'`` (85), ``'single'`` or a list of ``'...{}...'`` strings.
        normalize_features: L2-normalise features first, so scores are cosines (MaskCLIP).
        learnable_background: make the embeddings of the class named ``'background'`` trainable
            (MaskCLIP+ option).
        background_init: how a learnable background starts: ``'text'`` (default) from its text
            embeddings, ``'random'`` from a standard normal vector, as the MaskCLIP authors'
            ``bg_embeddings = nn.Parameter(torch.randn(1, C))`` (``maskclip_plus_head.py:68-69``;
            its word then never matters).
        cache_dir: text-embedding cache directory (default ``~/.cache/maskclip``).
        allow_shared_names: accept a name in several classes (see
            :func:`maskclip.text.load_vocabulary`).
    """

    def __init__(self, class_names: Union[str, Sequence], clip: Optional[dict],
                 templates: Union[str, Sequence[str]] = 'vild', normalize_features: bool = True,
                 learnable_background: bool = False, cache_dir: Optional[str] = None,
                 background_init: str = 'text', allow_shared_names: bool = False):
        super().__init__()
        self.init_args = dict(clip=clip, templates=templates,
                              normalize_features=normalize_features,
                              learnable_background=learnable_background, cache_dir=cache_dir,
                              background_init=background_init)
        owner = type(self).__name__
        for name, value in (('normalize_features', normalize_features),
                            ('learnable_background', learnable_background),
                            ('allow_shared_names', allow_shared_names)):
            check_flag(owner, name, value)
        check_choice(owner, 'background_init', background_init, ('text', 'random'))
        self.vocabulary = load_vocabulary(class_names, allow_shared_names)
        self.class_names = primary_names(self.vocabulary)
        self.num_classes = len(self.vocabulary)
        self.normalize_features = normalize_features
        embeddings = class_text_embeddings(ClipSpec.from_cfg(clip), self.vocabulary,
                                           resolve_templates(templates), cache_dir=cache_dir)
        self.embed_dim = embeddings.shape[1]
        name_to_class = [i for i, names in enumerate(self.vocabulary) for _ in names]
        self.register_buffer('text_embeddings', embeddings, persistent=False)
        self.register_buffer('name_to_class', torch.tensor(name_to_class), persistent=False)
        self.register_buffer('background_rows', None, persistent=False)
        if learnable_background:
            if 'background' not in self.class_names:
                raise ValueError('learnable_background=True needs a class named "background" in '
                                 f'the vocabulary; it has {list(self.class_names)[:8]}...')
            index = self.class_names.index('background')
            rows = torch.nonzero(self.name_to_class == index).flatten()
            self.background_rows = rows
            initial = embeddings[rows].clone() if background_init == 'text' else \
                torch.randn(len(rows), embeddings.shape[1])
            self.background_embeddings = nn.Parameter(initial)

    def decode_head_sizes(self, num_classes: Optional[int] = None,
                          in_channels: Optional[int] = None,
                          channels: Optional[int] = None) -> dict:
        """``BaseDecodeHead`` size arguments of a head classified by this vocabulary.

        Sizes a config gives anyway must agree with the vocabulary and CLIP's embedding size.
        """
        if num_classes is not None and num_classes != self.num_classes:
            raise ValueError(f'num_classes={num_classes} but the class names hold '
                             f'{self.num_classes} classes; make them agree (or drop num_classes).')
        for name, value in (('in_channels', in_channels), ('channels', channels)):
            if value not in (None, self.embed_dim):
                raise ValueError(f'{name}={value} does not match the CLIP embedding size '
                                 f'{self.embed_dim}; leave it unset.')
        return dict(in_channels=self.embed_dim, channels=self.embed_dim,
                    num_classes=self.num_classes, out_channels=self.num_classes)

    def with_vocabulary(self, class_names) -> 'TextClassifier':
        """A classifier of other classes with the same options, on the same device; a learned
        background is carried over (it must keep its number of names)."""
        other = TextClassifier(class_names, **self.init_args).to(self.text_embeddings.device)
        if self.background_rows is not None:
            if other.background_embeddings.shape != self.background_embeddings.shape:
                raise ValueError(
                    f"The learned background has {len(self.background_rows)} name(s); the new "
                    'vocabulary must name its background class with as many.')
            other.background_embeddings.data.copy_(self.background_embeddings.data)
        return other

    def embedding_matrix(self) -> torch.Tensor:
        """(N, C) unit embeddings of every name, learnable background rows included.

        (Not called ``weight``: mmengine's weight initialisers would overwrite a ``weight``.)
        """
        if self.background_rows is None:
            return self.text_embeddings
        background = F.normalize(self.background_embeddings, dim=-1)
        return self.text_embeddings.index_put((self.background_rows,), background)

    def forward(self, feats: torch.Tensor, reduce_names: bool = True) -> torch.Tensor:
        """(B, K, h, w) class scores (each class its best name), or with
        ``reduce_names=False`` the (B, N, h, w) scores of every name (``name_to_class`` maps
        them to classes)."""
        if self.normalize_features:
            feats = F.normalize(feats, dim=1)
        weight = self.embedding_matrix().to(feats.dtype)[:, :, None, None]
        scores = F.conv2d(feats, weight)
        if not reduce_names:
            return scores
        return reduce_synonyms(scores, self.name_to_class, self.num_classes)
