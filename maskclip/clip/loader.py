"""Build an open_clip CLIP model from a model name and a weight source.

One factory, :func:`load_clip`, covers every source a researcher has:

* an open_clip pretrained tag (``'openai'``, ``'laion2b_s34b_b88k'``, ...), downloaded and cached by
  open_clip; when it is neither cached nor reachable we fail within seconds and say how to supply
  the weights instead of waiting on network retries;
* a local file: an open_clip state dict (``.bin`` / ``.pt`` / ``.pth`` / ``.safetensors``), a file
  written by ``tools/convert_clip_weights.py``, or OpenAI's original TorchScript ``.pt``;
* ``None`` / ``'random'``: random weights from a fixed seed (tests and smoke runs only).

Every error names the problem and the fix.
"""
from __future__ import annotations

import copy
import logging
import os
import os.path as osp
import socket
import zipfile
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlparse

import open_clip
import torch

logger = logging.getLogger(__name__)

RANDOM = 'random'
#: key under which ``tools/convert_clip_weights.py`` stores how the weights must be built
META_KEY = 'maskclip_meta'

_CONFIG_DIR = osp.join(osp.dirname(__file__), 'model_configs')
if _CONFIG_DIR not in getattr(open_clip.factory, '_MODEL_CONFIG_PATHS', []):
    open_clip.add_model_config(_CONFIG_DIR)


class ClipWeightsError(RuntimeError):
    """CLIP weights could not be found, read or matched to the model."""


@dataclass(frozen=True)
class ClipSpec:
    """What to build: an open_clip model name and where its weights come from.

    Args:
        model_name: an open_clip model name, e.g. ``'ViT-B-16'`` or ``'RN50'``.
        pretrained: an open_clip tag, a checkpoint path, or ``None`` / ``'random'``.
        quick_gelu: force QuickGELU (OpenAI's activation) on or off. ``None`` decides from the
            weights: open_clip tags, OpenAI TorchScript files and converted files say which; a
            plain state dict cannot tell, and is refused until ``quick_gelu`` is given.
        seed: seed of the random initialisation when ``pretrained`` is random.
    """
    model_name: str = 'ViT-B-16'
    pretrained: Optional[str] = 'openai'
    quick_gelu: Optional[bool] = None
    seed: int = 0

    @classmethod
    def from_cfg(cls, cfg) -> 'ClipSpec':
        if isinstance(cfg, ClipSpec):
            return cfg
        if cfg is None:
            raise ValueError('A CLIP spec is required: dict(model_name=..., pretrained=...).')
        unknown = set(cfg) - {'model_name', 'pretrained', 'quick_gelu', 'seed'}
        if unknown:
            raise ValueError(f'Unknown CLIP option(s) {sorted(unknown)}; valid options are '
                             "model_name, pretrained, quick_gelu and seed.")
        return cls(**cfg)

    @property
    def is_random(self) -> bool:
        return self.pretrained is None or str(self.pretrained).lower() == RANDOM

    def weights_id(self) -> str:
        """A string that changes whenever the weights do (used to key caches)."""
        if self.is_random:
            return f'random(seed={self.seed},open_clip={open_clip.__version__})'
        if osp.isfile(str(self.pretrained)):
            path = osp.abspath(self.pretrained)
            stat = os.stat(path)
            return f'file:{path}:{stat.st_size}:{stat.st_mtime_ns}'
        return f'tag:{self.pretrained}'


def check_model_name(model_name: str) -> str:
    """Return ``model_name`` if open_clip knows it, else raise listing the valid names."""
    name = str(model_name).replace('/', '-')
    if name not in open_clip.list_models():
        raise ValueError(
            f"Unknown CLIP model name '{model_name}'. Valid open_clip names include: "
            f"{', '.join(open_clip.list_models())}.")
    return name


def _weights_help(spec: ClipSpec) -> str:
    return (
        f"How to supply CLIP weights for '{spec.model_name}':\n"
        f"  * with internet access, open_clip downloads the tag '{spec.pretrained}' once into its "
        "cache (~/.cache/huggingface);\n"
        "  * or point to a local file: `--clip-weights /path/to/ViT-B-16.pt` on the tools, the "
        "environment variable MASKCLIP_CLIP_WEIGHTS=/path/to/file, or "
        "`--cfg-options model.clip.pretrained=/path/to/file` (an open_clip state dict .bin/.pt/"
        ".safetensors, OpenAI's original .pt, or the output of tools/convert_clip_weights.py);\n"
        "  * or, for a smoke run whose numbers are meaningless, `--random-weights`.")


def _tag_is_available(pretrained_cfg: dict, timeout: float = 3.0) -> bool:
    """True when a tag's weights are in the local cache or its host answers within ``timeout``.

    Without this check an offline machine waits ~50 s on the hub's retries before failing.
    """
    hf_hub = pretrained_cfg.get('hf_hub', '')
    if hf_hub:
        from huggingface_hub import constants, try_to_load_from_cache
        parts = hf_hub.strip('/').split('/')
        repo_id = '/'.join(parts[:2])
        filename = '/'.join(parts[2:]) or None
        names = [filename] if filename else [
            'open_clip_pytorch_model.bin', 'open_clip_model.safetensors']
        for name in names:
            if isinstance(try_to_load_from_cache(repo_id, name), str):
                return True
        if constants.HF_HUB_OFFLINE:
            return False
        host = urlparse(constants.ENDPOINT).hostname
    else:
        url = pretrained_cfg.get('url', '')
        cached = osp.join(osp.expanduser('~/.cache/clip'), osp.basename(urlparse(url).path))
        if url and osp.isfile(cached):
            return True
        host = urlparse(url).hostname
    if not host:
        return False
    if any(os.environ.get(v) for v in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')):
        return True  # behind a proxy a direct connection says nothing: let the download try
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _is_torchscript_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith('constants.pkl') or '/code/' in name for name in archive.namelist())


def _read_state_dict(path: str) -> tuple[dict, dict]:
    """Read a state dict and our optional metadata from ``path`` with safe loading."""
    try:
        if _is_torchscript_archive(path):
            scripted = torch.jit.load(path, map_location='cpu')
            state_dict = {k: v for k, v in scripted.state_dict().items()
                          if k not in ('input_resolution', 'context_length', 'vocab_size')}
            return state_dict, {'quick_gelu': True, 'source': 'openai-torchscript'}
        if path.endswith('.safetensors'):
            from safetensors import safe_open
            from safetensors.torch import load_file
            with safe_open(path, 'pt') as f:  # our converted files keep META_KEY's fields here
                meta = {k: v for k, v in (f.metadata() or {}).items()
                        if k in ('model_name', 'quick_gelu')}
            if 'quick_gelu' in meta:
                meta['quick_gelu'] = meta['quick_gelu'] == 'True'
            return load_file(path, device='cpu'), meta
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # noqa: BLE001 - every reader error means the same thing here
        raise ClipWeightsError(
            f'Could not read CLIP weights from {path}: {type(error).__name__}: {error}. The file is '
            'corrupt or not a checkpoint; download it again or write a clean one with '
            'tools/convert_clip_weights.py.') from error
    if not isinstance(checkpoint, dict):
        raise ClipWeightsError(f'{path} holds a {type(checkpoint).__name__}, not a state dict; '
                               'convert it with tools/convert_clip_weights.py.')
    meta = checkpoint.get(META_KEY, {}) if isinstance(checkpoint.get(META_KEY), dict) else {}
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {k[len('module.'):] if k.startswith('module.') else k: v
                  for k, v in state_dict.items() if k != META_KEY}
    return state_dict, meta


def _create(model_name: str, quick_gelu: bool) -> torch.nn.Module:
    return open_clip.create_model(model_name, pretrained=None, force_quick_gelu=quick_gelu)


def _load_file(spec: ClipSpec, name: str) -> torch.nn.Module:
    path = str(spec.pretrained)
    state_dict, meta = _read_state_dict(path)
    if spec.quick_gelu is None and 'quick_gelu' not in meta:
        raise ClipWeightsError(
            f'{path} is a plain state dict: it does not say whether its CLIP runs QuickGELU '
            "(OpenAI's weights) or GELU (LAION, DataComp and most others), and the wrong one gives "
            'plausible but wrong features. Say it: quick_gelu=True for OpenAI weights, False '
            'otherwise (in a config clip=dict(..., quick_gelu=True), e.g. --cfg-options '
            'model.clip.quick_gelu=True; in Python load_clip(..., quick_gelu=True)), or write a '
            'self-describing file once: python tools/convert_clip_weights.py MODEL FILE OUT '
            '--quick-gelu (or --no-quick-gelu).')
    quick_gelu = spec.quick_gelu if spec.quick_gelu is not None else bool(meta['quick_gelu'])
    if meta.get('model_name') and meta['model_name'] != name:
        raise ClipWeightsError(
            f"{path} holds weights of '{meta['model_name']}', not '{name}': set model_name to "
            f"'{meta['model_name']}' or use weights of '{name}'.")
    model = _create(name, quick_gelu)
    state_dict = open_clip.factory.convert_state_dict(model, state_dict)
    if 'positional_embedding' in state_dict and not hasattr(model, 'positional_embedding'):
        state_dict = open_clip.factory.convert_to_custom_text_state_dict(state_dict)
    if 'logit_scale' in state_dict and state_dict['logit_scale'].ndim != model.logit_scale.ndim:
        state_dict['logit_scale'] = state_dict['logit_scale'].reshape(model.logit_scale.shape)
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        raise ClipWeightsError(
            f"The weights in {path} do not fit the model '{name}' ({str(error).splitlines()[0]} ...). "
            'Pick the model name the weights were trained for.') from error
    return model


def _tag_cfg(spec: ClipSpec, name: str) -> dict:
    tags = open_clip.list_pretrained_tags_by_model(name)
    if spec.pretrained not in tags:
        raise ClipWeightsError(
            f"'{spec.pretrained}' is neither an existing file nor an open_clip tag of '{name}'. "
            f"Tags of '{name}': {', '.join(tags) or 'none'}. A local path must point to a file.")
    return open_clip.get_pretrained_cfg(name, spec.pretrained)


def check_weights(spec: ClipSpec) -> str:
    """Check, without loading, that ``spec`` can be built; return ``'random'``, ``'file'`` or ``'tag'``.

    Raises :class:`ClipWeightsError` (or ``ValueError`` for an unknown model name) within seconds.
    """
    name = check_model_name(spec.model_name)
    if spec.is_random:
        return 'random'
    if osp.isfile(str(spec.pretrained)):
        return 'file'
    if osp.splitext(str(spec.pretrained))[1] in ('.pt', '.pth', '.bin', '.safetensors') \
            or os.sep in str(spec.pretrained):
        raise ClipWeightsError(f'CLIP weight file not found: {spec.pretrained}\n{_weights_help(spec)}')
    if not _tag_is_available(_tag_cfg(spec, name)):
        raise ClipWeightsError(
            f"The CLIP weights '{name}' / '{spec.pretrained}' are not in open_clip's cache and the "
            f"download host cannot be reached.\n{_weights_help(spec)}")
    return 'tag'


def _load_tag(spec: ClipSpec, name: str) -> torch.nn.Module:
    pretrained_cfg = _tag_cfg(spec, name)
    quick_gelu = spec.quick_gelu if spec.quick_gelu is not None else bool(
        pretrained_cfg.get('quick_gelu', False))
    try:
        return open_clip.create_model(name, pretrained=spec.pretrained, force_quick_gelu=quick_gelu)
    except RuntimeError as error:
        raise ClipWeightsError(f'{error}\n{_weights_help(spec)}') from error


def _load_uncached(spec: ClipSpec) -> torch.nn.Module:
    name = check_model_name(spec.model_name)
    source = check_weights(spec)
    if source == 'random':
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            model = _create(name, bool(spec.quick_gelu))
        logger.warning('CLIP %s has RANDOM weights (seed %d): predictions are meaningless.',
                       name, spec.seed)
    elif source == 'file':
        model = _load_file(spec, name)
    else:
        model = _load_tag(spec, name)
    model.eval().requires_grad_(False)
    return model.float()


_last: tuple[tuple, torch.nn.Module] | None = None


def load_clip(model_name: str = 'ViT-B-16', pretrained: Optional[str] = 'openai',
              quick_gelu: Optional[bool] = None, seed: int = 0) -> torch.nn.Module:
    """Return a frozen, fp32, eval-mode open_clip ``CLIP`` model on the CPU.

    The last model is kept so that a segmentor's backbone and text head, which both ask for the
    same weights while it is built, read them once. Callers that keep or change modules of the
    returned model must copy them (the encoders do).
    """
    global _last
    spec = ClipSpec(model_name, pretrained, quick_gelu, seed)
    key = (spec, spec.weights_id())
    if _last is None or _last[0] != key:
        _last = None  # release the previous model before building the next one
        _last = (key, _load_uncached(spec))
    return _last[1]


def clear_cache() -> None:
    """Forget the last loaded model (frees its memory)."""
    global _last
    _last = None


def copy_module(module: torch.nn.Module) -> torch.nn.Module:
    """A private copy of a (shared, cached) CLIP sub-module."""
    return copy.deepcopy(module)
