"""ReCLIP's learnable Reference text input (paper Sec. 3.2, Eq. 1).

``R_i = [SOT] [v_1] ... [v_L] [CLS_i] [EOT]``: one CoOp-style context of ``L`` learnable word
embeddings shared by every class, followed by the tokens of the class name. The sequence goes
through CLIP's *frozen* text transformer (the context is injected in place of token embeddings),
is pooled at each sequence's end-of-text token and projected, giving the reference text
embeddings ``W_r`` (K, C), used as the weights of the Reference segmentation head.
"""
from __future__ import annotations

import copy
from typing import Optional, Sequence, Union

import open_clip
import torch
import torch.nn as nn
import torch.nn.functional as F

from maskclip.clip import load_clip
from maskclip.models.checkpointing import exclude_from_checkpoints
from maskclip.text import load_vocabulary, primary_names
from maskclip.text.embeddings import text_tower

#: the paper's context length: 77 tokens - SOT - EOT - 2 for the class name
PAPER_CONTEXT_LENGTH = 73


class ReferencePrompt(nn.Module):
    """Learnable shared context + class names -> L2-normalised reference embeddings ``W_r``.

    Args:
        class_names: a maskclip vocabulary (built-in name, file, or list of classes). A class with
            synonyms (``'person, people'`` or ``['person', 'people']``) uses only its **first**
            name: the Reference prompt is one sequence per class.
        clip: keyword arguments of :func:`maskclip.clip.load_clip` (``model_name``,
            ``pretrained``, ...). Only a private, frozen copy of the text tower is kept.
        context_length: ``L``, the number of learnable context tokens. ``None`` (default) takes
            the paper's 73 when every name fits (names of at most 2 tokens), else the largest
            ``L`` that fits the longest name: ``77 - 2 - longest name``. An explicit ``L`` with
            ``1 + L + name + 1 > 77`` for some class raises ``ValueError``.
        init: how the context starts. A phrase (default ``'a photo of a'``) initialises it with
            the phrase's token embeddings, repeated (cyclically) or cut to ``L`` tokens; a single
            word such as ``'X'`` therefore gives ``L`` copies of one token embedding. An ``int``
            is a token id: ``L`` copies of its embedding (the authors' ``0``,
            dogehhh/ReCLIP@99b64d7 ``model/model.py:232-233``). ``'random'`` draws N(0, 0.02)
            like CoOp's random initialisation.
        name_layout: how the class name follows the context. ``'paper'`` (default): all the
            name's tokens, then EOT, pooled at the EOT. ``'authors'``: their released layout
            (``utils/preprocess.py:521``, ``model/model.py:245-260`` at 99b64d7): exactly three
            name slots ``tokenize(name)[1:4]`` after ``[SOT] + 73`` context tokens (77 in all),
            pooled at ``74 + argmax(slots)``. A name of one or two tokens keeps its EOT (the
            largest token id, so the pooling is at the EOT); a name of three or more tokens is
            cut to its first three and pooled at whichever of them has the largest token id.
            ``context_length`` must then be ``None`` or 73.
        dtype: dtype of the learnable context (the frozen tower runs in its own dtype).
    """

    #: the values of ``name_layout``
    NAME_LAYOUTS = ('paper', 'authors')
    #: name slots of the authors' layout
    AUTHORS_NAME_SLOTS = 3

    def __init__(self, class_names: Union[str, Sequence], clip: dict,
                 context_length: Optional[int] = None, init: Union[str, int] = 'a photo of a',
                 name_layout: str = 'paper', dtype: torch.dtype = torch.float32):
        super().__init__()
        self.class_names = primary_names(load_vocabulary(class_names))
        model = load_clip(**dict(clip))
        if getattr(model, 'text_pool_type', 'argmax') != 'argmax' or not hasattr(
                model, 'token_embedding'):
            raise ValueError('ReferencePrompt needs a CLIP text tower that pools at the '
                             'end-of-text token (open_clip CLIP with text_pool_type="argmax").')
        self.tokenizer = open_clip.get_tokenizer(dict(clip).get('model_name', 'ViT-B-16'))
        max_len = int(model.positional_embedding.shape[0])  # 77

        # Private frozen copies of the text tower.
        self.token_embedding = copy.deepcopy(model.token_embedding)
        self.positional_embedding = nn.Parameter(
            model.positional_embedding.detach().clone(), requires_grad=False)
        self.transformer = copy.deepcopy(model.transformer)
        self.ln_final = copy.deepcopy(model.ln_final)
        proj = model.text_projection
        if isinstance(proj, nn.Module):
            self.text_projection = copy.deepcopy(proj)
        elif proj is not None:
            self.text_projection = nn.Parameter(proj.detach().clone(), requires_grad=False)
        else:
            self.text_projection = None
        self.register_buffer('attn_mask', model.attn_mask.detach().clone(), persistent=False)
        for module in (self.token_embedding, self.transformer, self.ln_final):
            module.requires_grad_(False)
        if isinstance(self.text_projection, nn.Module):
            self.text_projection.requires_grad_(False)

        if name_layout not in self.NAME_LAYOUTS:
            raise ValueError(f'name_layout must be one of {self.NAME_LAYOUTS}, not '
                             f'{name_layout!r}.')
        self.name_layout = name_layout
        if name_layout == 'authors':
            ids, eot, context_length = self._authors_layout(context_length, max_len)
        else:
            ids, eot, context_length = self._paper_layout(context_length, max_len)
        self.context_length = context_length
        self.register_buffer('token_ids', ids, persistent=False)
        self.register_buffer('eot_index', eot, persistent=False)

        # The only trainable parameter.
        width = self.token_embedding.weight.shape[1]
        self.context = nn.Parameter(torch.empty(context_length, width, dtype=dtype))
        if init == 'random':
            nn.init.normal_(self.context, std=0.02)
        else:
            if isinstance(init, int) and not isinstance(init, bool):
                init_ids = [init]
            else:
                init_ids = self.tokenizer.encode(init)
            if not init_ids:
                raise ValueError(f'init={init!r} has no tokens; give a phrase, a token id or '
                                 '"random".')
            init_ids = [init_ids[i % len(init_ids)] for i in range(context_length)]
            with torch.no_grad():
                self.context.copy_(self.token_embedding.weight[torch.tensor(init_ids)])
        # checkpoints hold the context only: the text tower is rebuilt from CLIP
        exclude_from_checkpoints(self, ['token_embedding', 'positional_embedding', 'transformer',
                                        'ln_final', 'text_projection'])
        self.train()

    def _authors_layout(self, context_length, max_len):
        """``[SOT] + L context + tokenize(name)[1:4]`` (77 tokens), pooled at ``1 + L +
        argmax(slots)``; see ``name_layout``."""
        slots = self.AUTHORS_NAME_SLOTS
        length = max_len - 1 - slots  # 73
        if context_length not in (None, length):
            raise ValueError(f"name_layout='authors' has a fixed context of {length} tokens "
                             f'(SOT + {length} + {slots} name slots = {max_len}); got '
                             f'context_length={context_length}. Leave it None.')
        placeholder = self.tokenizer.encode('X')[0]
        ids = torch.zeros(self.num_classes, max_len, dtype=torch.long)
        pool = torch.empty(self.num_classes, dtype=torch.long)
        for k, name in enumerate(self.class_names):
            padded = self.tokenizer([name])[0]  # [SOT, name..., EOT, 0, ...]
            name_slots = padded[1:1 + slots]
            ids[k] = torch.cat([torch.tensor([self.tokenizer.sot_token_id]),
                                torch.full((length,), placeholder), name_slots])
            pool[k] = 1 + length + int(name_slots.argmax())
        return ids, pool, length

    def _paper_layout(self, context_length, max_len):
        """``[SOT] + L context + name + [EOT]``, pooled at the EOT; see ``context_length``."""
        name_tokens = [self.tokenizer.encode(name) for name in self.class_names]
        longest = max(range(len(name_tokens)), key=lambda i: len(name_tokens[i]))
        room = max_len - 2 - len(name_tokens[longest])  # the largest L that fits every name
        if context_length is None:
            if room < 1:
                raise ValueError(
                    f"The class name '{self.class_names[longest]}' has "
                    f'{len(name_tokens[longest])} tokens: no learnable context fits in CLIP\'s '
                    f'{max_len} tokens; shorten the name.')
            context_length = min(PAPER_CONTEXT_LENGTH, room)
        context_length = int(context_length)
        if context_length < 1:
            raise ValueError(f'context_length must be >= 1, got {context_length}.')
        if 1 + context_length + len(name_tokens[longest]) + 1 > max_len:
            raise ValueError(
                f"The class name '{self.class_names[longest]}' ({len(name_tokens[longest])} "
                f'tokens) does not fit with context_length={context_length}: SOT + '
                f'{context_length} + {len(name_tokens[longest])} + EOT > {max_len}. Use '
                f'context_length <= {room} or a shorter name.')
        # Token ids: [SOT] + L placeholders + name + [EOT] + zero padding; EOT index per class.
        placeholder = self.tokenizer.encode('X')[0]
        ids = torch.zeros(len(name_tokens), max_len, dtype=torch.long)
        eot = torch.empty(len(name_tokens), dtype=torch.long)
        for k, tokens in enumerate(name_tokens):
            seq = ([self.tokenizer.sot_token_id] + [placeholder] * context_length + tokens
                   + [self.tokenizer.eot_token_id])
            ids[k, :len(seq)] = torch.tensor(seq)
            eot[k] = len(seq) - 1
        return ids, eot, context_length

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def frozen_modules(self):
        return [m for m in (self.token_embedding, self.transformer, self.ln_final,
                            self.text_projection) if isinstance(m, nn.Module)]

    def train(self, mode: bool = True) -> 'ReferencePrompt':
        """Switch the module's mode; the frozen CLIP text tower always stays in eval mode."""
        super().train(mode)
        for module in self.frozen_modules():
            module.eval()
        return self

    @torch.no_grad()
    def set_context_from_text(self, text: str) -> None:
        """Set the context to the token embeddings of ``text`` (which must have exactly L tokens)."""
        ids = self.tokenizer.encode(text)
        if len(ids) != self.context_length:
            raise ValueError(f'{text!r} has {len(ids)} tokens but the context has '
                             f'{self.context_length}.')
        self.context.copy_(self.token_embedding.weight[torch.tensor(ids)])

    def raw_embeddings(self) -> torch.Tensor:
        """(K, C) reference text features before any normalisation."""
        length = int(self.eot_index.max()) + 1  # exact: the mask is causal, pooling at EOT
        ids = self.token_ids[:, :length]
        x = self.token_embedding(ids)
        ctx = self.context.to(x.dtype).unsqueeze(0).expand(ids.shape[0], -1, -1)
        x = torch.cat([x[:, :1], ctx, x[:, 1 + self.context_length:]], dim=1)
        return text_tower(self, x, self.eot_index).float()

    def forward(self, norm: str = 'row') -> torch.Tensor:
        """``W_r``: (K, C) reference text embeddings, one row per class.

        ``norm='row'`` (the paper's cosine): each row L2-normalised. ``norm='matrix'``: the
        whole K x C matrix divided by its Frobenius norm, as the authors' ``prompt /
        prompt.norm()`` (dogehhh/ReCLIP@99b64d7 ``model/model.py:356-357``): rows keep their
        relative lengths and each is about ``1 / sqrt(K)`` long, so ``M_r`` is that much smaller.
        """
        raw = self.raw_embeddings()
        if norm == 'row':
            return F.normalize(raw, dim=-1)
        if norm == 'matrix':
            return raw / raw.norm()
        raise ValueError(f"norm must be 'row' or 'matrix', not {norm!r}.")

    def extra_repr(self) -> str:
        return f'num_classes={self.num_classes}, context_length={self.context_length}'
