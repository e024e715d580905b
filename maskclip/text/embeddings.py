"""Text embeddings of class vocabularies: template averaging and an on-disk cache."""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import os.path as osp
from typing import Optional, Sequence

import open_clip
import torch
import torch.nn.functional as F
from tqdm import tqdm

from maskclip.clip import ClipSpec, load_clip

from .class_names import Vocabulary

logger = logging.getLogger(__name__)
CACHE_FORMAT = 1


def default_cache_dir() -> str:
    """``$MASKCLIP_CACHE_DIR/text_embeddings`` or ``~/.cache/maskclip/text_embeddings``."""
    root = os.environ.get('MASKCLIP_CACHE_DIR') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'maskclip')
    return osp.join(root, 'text_embeddings')


def text_tower(tower, x: torch.Tensor, eot_index: torch.Tensor) -> torch.Tensor:
    """CLIP's text transformer on token embeddings ``x`` (B, n, D), pooled at ``eot_index``.

    ``tower`` is an open_clip CLIP or anything holding its text parts (``positional_embedding``,
    ``transformer``, ``attn_mask``, ``ln_final``, ``text_projection``), such as ReCLIP's
    Reference prompt, which injects learned embeddings into ``x``. ``n`` may be shorter than the
    context: the mask is causal and pooling is at the end-of-text token, so padding after it
    never changes the result.
    """
    n = x.shape[1]
    cast_dtype = tower.transformer.get_cast_dtype()
    x = x.to(cast_dtype) + tower.positional_embedding[:n].to(cast_dtype)
    x = tower.ln_final(tower.transformer(x, attn_mask=tower.attn_mask[:n, :n]))
    x = x[torch.arange(x.shape[0], device=x.device), eot_index]
    projection = tower.text_projection
    if isinstance(projection, torch.nn.Module):
        return projection(x)
    return x @ projection if projection is not None else x


def encode_text(model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """``model.encode_text(tokens)``, computed only over the longest prompt's tokens.

    Cutting the padding after the end-of-text token is exact (see :func:`text_tower`) and makes
    short prompts several times cheaper. Models without a causal mask or end-of-text pooling take
    open_clip's own path.
    """
    mask = getattr(model, 'attn_mask', None)
    pool = getattr(model, 'text_pool_type', None)
    if mask is None or pool != 'argmax' or not hasattr(model, 'token_embedding'):
        return model.encode_text(tokens)
    length = int(tokens.argmax(dim=-1).max()) + 1  # argmax = end-of-text (the largest id)
    tokens = tokens[:, :length]
    return text_tower(model, model.token_embedding(tokens), tokens.argmax(dim=-1))


@torch.no_grad()
def encode_names(model: torch.nn.Module, tokenizer, names: Sequence[str],
                 templates: Sequence[str], progress: bool = True,
                 batch_size: int = 256) -> torch.Tensor:
    """Embed every name with every template; return (len(names), C) unit vectors.

    A name's embedding is the mean of its L2-normalised template embeddings, normalised again.
    """
    prompts = [template.format(name) for name in names for template in templates]
    chunks = []
    bar = tqdm(total=len(names), desc='text embeddings', unit='class', disable=not progress,
               leave=False)
    for start in range(0, len(prompts), batch_size):
        tokens = tokenizer(prompts[start:start + batch_size])
        chunks.append(F.normalize(encode_text(model, tokens).float(), dim=-1))
        bar.n = min(len(names), (start + batch_size) // len(templates))
        bar.refresh()
    bar.close()
    per_prompt = torch.cat(chunks).view(len(names), len(templates), -1)
    return F.normalize(per_prompt.mean(dim=1), dim=-1)


def cache_key(spec: ClipSpec, vocabulary: Vocabulary, templates: Sequence[str]) -> str:
    """Hash of everything the embeddings depend on: model, weights, templates, class list."""
    payload = json.dumps(dict(format=CACHE_FORMAT, model=spec.model_name,
                              weights=spec.weights_id(), quick_gelu=spec.quick_gelu,
                              templates=list(templates), classes=[list(c) for c in vocabulary]),
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def cache_path(spec: ClipSpec, vocabulary: Vocabulary, templates: Sequence[str],
               cache_dir: Optional[str] = None) -> str:
    """The file where :func:`class_text_embeddings` keeps these embeddings."""
    return osp.join(cache_dir or default_cache_dir(),
                    f'{spec.model_name}-{cache_key(spec, vocabulary, templates)}.pt')


def _read_cache(path: str, names) -> Optional[torch.Tensor]:
    if not osp.isfile(path):
        return None
    try:
        cached = torch.load(path, map_location='cpu', weights_only=True)
        if cached['names'] == names:
            return cached['embeddings']
    except Exception as error:  # noqa: BLE001 - a bad cache entry is recomputed
        logger.warning('Ignoring unreadable text-embedding cache %s (%s)', path, error)
    return None


def _distributed() -> tuple:
    """(rank, world size) of an initialised process group, else (0, 1)."""
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def class_text_embeddings(spec: ClipSpec, vocabulary: Vocabulary, templates: Sequence[str],
                          cache_dir: Optional[str] = None, use_cache: bool = True,
                          progress: bool = True) -> torch.Tensor:
    """(N, C) embeddings of all names of ``vocabulary`` (classes flattened, synonyms in order).

    Read from ``cache_dir`` when present there, else computed with CLIP's text encoder (on the
    GPU when there is one) and saved. In a distributed run rank 0 computes them while the other
    ranks wait, then read its cache file (a rank that cannot see the file, e.g. on another node
    without a shared cache, computes them itself).
    """
    names = [name for names in vocabulary for name in names]
    path = cache_path(spec, vocabulary, templates, cache_dir)
    rank, world_size = _distributed()
    if use_cache and world_size > 1:  # every rank passes the barrier, cache hit or not
        import torch.distributed as dist
        if rank == 0:
            embeddings = _read_cache(path, names)
            if embeddings is None:
                embeddings = _compute_and_save(spec, names, templates, path, progress)
        dist.barrier()
        if rank == 0:
            return embeddings
    cached = _read_cache(path, names) if use_cache else None
    if cached is not None:
        return cached
    return _compute_and_save(spec, names, templates, path if use_cache else None, progress)


def _compute_and_save(spec: ClipSpec, names, templates, path: Optional[str],
                      progress: bool) -> torch.Tensor:
    logger.info('Encoding %d class names x %d templates with %s', len(names), len(templates),
                spec.model_name)
    model = load_clip(**vars(spec))
    device = torch.device('cuda', torch.cuda.current_device()) if torch.cuda.is_available() \
        else torch.device('cpu')
    tokenizer = open_clip.get_tokenizer(spec.model_name)
    if device.type == 'cuda':
        model = copy.deepcopy(model).to(device)  # the shared CPU model stays where it is
        embeddings = encode_names(model, lambda p: tokenizer(p).to(device), names, templates,
                                  progress=progress).cpu()
        del model
    else:
        embeddings = encode_names(model, tokenizer, names, templates, progress=progress)
    if path is not None:
        os.makedirs(osp.dirname(path), exist_ok=True)
        tmp = f'{path}.{os.getpid()}.tmp'
        torch.save(dict(names=names, embeddings=embeddings), tmp)
        os.replace(tmp, path)  # atomic: parallel workers never read half a file
    return embeddings
