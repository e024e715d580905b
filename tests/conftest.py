"""Shared fixtures: tiny random CLIPs, an isolated cache, no network."""
import os

# Never touch the hub or the user's caches from tests (set before open_clip / hf imports).
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ.setdefault('MMSEG_TEST', '1')

import socket  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

import reclip  # noqa: E402

# importing the packages registers nothing: register mmseg's, maskclip's and ReCLIP's modules
# (and the tiny test CLIPs) once for every test, as a script does
reclip.register_all_modules(init_default_scope=False)

TINY_VIT = 'tiny-ViT-16-test'
TINY_RN = 'tiny-RN-test'


@pytest.fixture(autouse=True, scope='session')
def _isolated_cache(tmp_path_factory):
    os.environ['MASKCLIP_CACHE_DIR'] = str(tmp_path_factory.mktemp('maskclip_cache'))
    yield


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


#: the repository root (tests run the tools and read the configs from it)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def save_clip_weights(model_name: str, path) -> str:
    """The random CLIP ``model_name`` (seed 0) saved as a self-describing weight file, as
    tools/convert_clip_weights.py writes them (a plain state dict would not say its activation)."""
    from maskclip.clip import load_clip
    from maskclip.clip.loader import META_KEY
    torch.save({'state_dict': load_clip(model_name, None).state_dict(),
                META_KEY: {'model_name': model_name, 'quick_gelu': False}}, path)
    return str(path)


def free_port() -> int:
    """A TCP port nobody listens on now (for torchrun's rendezvous in tests)."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
