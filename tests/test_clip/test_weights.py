"""Weight sources of load_clip, their conversion (maskclip.clip.convert) and the tools
convert_clip_weights.py / build_text_embeddings.py through their command lines."""
import os
import os.path as osp
import re
import subprocess
import sys
import time

import open_clip
import pytest
import torch

from maskclip.clip import ClipSpec, ClipWeightsError, load_clip
from maskclip.text import class_text_embeddings, load_vocabulary, resolve_templates

from maskclip.clip.convert import convert_clip_weights

from ..conftest import TINY_RN, TINY_VIT

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE_CONFIG = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'
OPENAI_BUFFERS = {'input_resolution': 224, 'context_length': 77, 'vocab_size': 49408}


def run_tool(name, *args, cache_dir):
    """Run ``tools/<name>.py`` in a fresh interpreter, offline, with its own cache."""
    env = dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(cache_dir))
    env.pop('MASKCLIP_CLIP_WEIGHTS', None)
    return subprocess.run([sys.executable, osp.join(REPO, 'tools', f'{name}.py'), *map(str, args)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(autouse=True)
def _no_weights_env(monkeypatch):
    monkeypatch.delenv('MASKCLIP_CLIP_WEIGHTS', raising=False)


def uses_quick_gelu(model):
    return any(isinstance(m, open_clip.transformer.QuickGELU) for m in model.modules())


def state_dict_of(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_identical(got, expected):
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key


@pytest.fixture(scope='module')
def tiny_vit(tmp_path_factory):
    """The random tiny ViT's state dict, saved as an open_clip .pt and as .safetensors."""
    from safetensors.torch import save_file
    root = tmp_path_factory.mktemp('weights')
    state_dict = state_dict_of(load_clip(TINY_VIT, None))
    torch.save(state_dict, root / 'open_clip.pt')
    save_file(state_dict, str(root / 'open_clip.safetensors'))
    return dict(state_dict=state_dict, pt=str(root / 'open_clip.pt'),
                safetensors=str(root / 'open_clip.safetensors'))


def make_openai_archive(state_dict, path):
    """A TorchScript archive laid out like OpenAI's .pt: the CLIP keys plus three int buffers."""
    class Node(torch.nn.Module):
        def forward(self, x):
            return x

    root = Node()
    for key, value in state_dict.items():
        *parents, leaf = key.split('.')
        module = root
        for name in parents:
            if name not in module._modules:
                module.add_module(name, Node())
            module = module._modules[name]
        module.register_buffer(leaf, value.clone())
    for name, value in OPENAI_BUFFERS.items():
        root.register_buffer(name, torch.tensor(value))
    torch.jit.script(root).save(str(path))
    return str(path)


# --------------------------------------------------------------------------- convert tool


def test_convert_plain_state_dict_roundtrip(tiny_vit, tmp_path):
    out = tmp_path / 'converted.pth'
    result = run_tool('convert_clip_weights', TINY_VIT, tiny_vit['pt'], out, '--no-quick-gelu',
                      cache_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f'--clip-weights {out}' in result.stdout
    assert f'model.clip.pretrained={out}' in result.stdout
    checkpoint = torch.load(out, map_location='cpu', weights_only=True)
    assert checkpoint['maskclip_meta'] == {'model_name': TINY_VIT, 'quick_gelu': False,
                                           'source': tiny_vit['pt'],
                                           'open_clip': open_clip.__version__}
    model = load_clip(TINY_VIT, str(out))
    assert not uses_quick_gelu(model)
    assert_identical(state_dict_of(model), tiny_vit['state_dict'])


@pytest.mark.parametrize('source', ['pt', 'safetensors'])
@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_convert_quick_gelu_roundtrip(tiny_vit, tmp_path, source, suffix):
    gelu_out, quick_out = str(tmp_path / f'gelu{suffix}'), str(tmp_path / f'quick{suffix}')
    convert_clip_weights(TINY_VIT, tiny_vit[source], gelu_out, quick_gelu=False)
    convert_clip_weights(TINY_VIT, tiny_vit[source], quick_out, quick_gelu=True)
    if suffix == '.safetensors':
        from safetensors import safe_open
        with safe_open(quick_out, 'pt') as f:
            assert f.metadata()['quick_gelu'] == 'True'
            assert f.metadata()['model_name'] == TINY_VIT

    images = torch.randn(2, 3, 224, 224)
    gelu = load_clip(TINY_VIT, gelu_out)
    assert not uses_quick_gelu(gelu)
    assert_identical(state_dict_of(gelu), tiny_vit['state_dict'])
    gelu_features = gelu.encode_image(images)
    quick = load_clip(TINY_VIT, quick_out)  # no quick_gelu argument: the file says so
    assert uses_quick_gelu(quick)
    assert_identical(state_dict_of(quick), tiny_vit['state_dict'])
    assert not torch.allclose(quick.encode_image(images), gelu_features, atol=1e-4)
    # the file's choice can still be overridden
    assert not uses_quick_gelu(load_clip(TINY_VIT, quick_out, quick_gelu=False))


def test_openai_torchscript_archive(tiny_vit, tmp_path):
    archive = make_openai_archive(tiny_vit['state_dict'], tmp_path / 'ViT-tiny.pt')
    assert set(torch.jit.load(archive).state_dict()) == set(tiny_vit['state_dict']) | set(
        OPENAI_BUFFERS)
    model = load_clip(TINY_VIT, archive)
    assert uses_quick_gelu(model)
    assert_identical(state_dict_of(model), tiny_vit['state_dict'])

    out = str(tmp_path / 'converted.pt')
    meta = convert_clip_weights(TINY_VIT, archive, out)
    assert meta['quick_gelu'] is True and meta['model_name'] == TINY_VIT
    converted = load_clip(TINY_VIT, out)
    assert uses_quick_gelu(converted)
    assert_identical(state_dict_of(converted), tiny_vit['state_dict'])


@pytest.mark.parametrize('case', ['missing', 'corrupt', 'unknown-model', 'random'])
def test_convert_bad_input_names_the_problem(tiny_vit, tmp_path, case):
    source = {'missing': str(tmp_path / 'nope.pt'), 'corrupt': str(tmp_path / 'bad.pt'),
              'unknown-model': tiny_vit['pt'], 'random': 'random'}[case]
    (tmp_path / 'bad.pt').write_bytes(b'not a checkpoint at all' * 10)
    name = 'ViT-Nope-99' if case == 'unknown-model' else TINY_VIT
    out = tmp_path / 'out.pt'
    with pytest.raises((ClipWeightsError, ValueError)) as error:
        convert_clip_weights(name, source, str(out))
    assert {'missing': 'not found', 'corrupt': 'corrupt', 'unknown-model': 'ViT-B-16',
            'random': 'nothing to convert'}[case] in str(error.value)
    assert not out.exists()


def test_convert_tool_exits_2_on_bad_input(tmp_path):
    result = run_tool('convert_clip_weights', TINY_VIT, tmp_path / 'nope.pt', tmp_path / 'o.pt',
                      cache_dir=tmp_path)
    assert result.returncode == 2 and 'ERROR' in result.stderr and 'not found' in result.stderr
    assert 'Traceback' not in result.stderr


# --------------------------------------------------------------------------- load_clip errors


def test_missing_file(tmp_path):
    with pytest.raises(ClipWeightsError, match='not found'):
        load_clip(TINY_VIT, str(tmp_path / 'missing.pt'))


@pytest.mark.parametrize('suffix', ['.pt', '.safetensors'])
def test_corrupt_file(tmp_path, suffix):
    path = tmp_path / f'garbage{suffix}'
    path.write_bytes(os.urandom(4096))
    with pytest.raises(ClipWeightsError, match='corrupt'):
        load_clip(TINY_VIT, str(path))


def test_weights_of_another_architecture(tmp_path):
    path = tmp_path / 'rn.pt'
    torch.save(state_dict_of(load_clip(TINY_RN, None)), path)
    with pytest.raises(ClipWeightsError, match='do not fit'):
        load_clip(TINY_VIT, str(path), quick_gelu=False)


@pytest.mark.parametrize('source', ['pt', 'safetensors'])
def test_plain_state_dict_needs_quick_gelu_said(tiny_vit, tmp_path, source):
    """A plain state dict cannot tell QuickGELU (OpenAI) from GELU: refused until it is said,
    then loaded with exactly the activation asked for."""
    with pytest.raises(ClipWeightsError, match='plain state dict.*quick_gelu=True'):
        load_clip(TINY_VIT, tiny_vit[source])
    with pytest.raises(ClipWeightsError, match='--no-quick-gelu'):
        convert_clip_weights(TINY_VIT, tiny_vit[source], str(tmp_path / 'out.pt'))
    assert uses_quick_gelu(load_clip(TINY_VIT, tiny_vit[source], quick_gelu=True))
    gelu = load_clip(TINY_VIT, tiny_vit[source], quick_gelu=False)
    assert not uses_quick_gelu(gelu)
    assert_identical(state_dict_of(gelu), tiny_vit['state_dict'])


def test_unknown_model_name():
    with pytest.raises(ValueError, match='Unknown CLIP model name') as error:
        load_clip('ViT-Nope-99', None)
    assert 'ViT-B-16' in str(error.value)


def test_unknown_tag():
    with pytest.raises(ClipWeightsError) as error:
        load_clip('ViT-B-16', 'nope')
    assert 'openai' in str(error.value) and "'nope'" in str(error.value)


def test_uncached_tag_offline_fails_fast(tmp_path, monkeypatch):
    from huggingface_hub import constants
    monkeypatch.setattr(constants, 'HF_HUB_OFFLINE', True)
    monkeypatch.setattr(constants, 'HF_HUB_CACHE', str(tmp_path / 'empty_hf_cache'))
    start = time.perf_counter()
    with pytest.raises(ClipWeightsError) as error:
        load_clip('ViT-B-16', 'openai')
    assert time.perf_counter() - start < 10
    assert '--clip-weights' in str(error.value)


@pytest.mark.parametrize('suffix', ['.pth', '.safetensors'])
def test_converted_file_of_another_model(tiny_vit, tmp_path, suffix):
    out = str(tmp_path / f'vit{suffix}')
    convert_clip_weights(TINY_VIT, tiny_vit['pt'], out, quick_gelu=False)
    with pytest.raises(ClipWeightsError, match=re.escape(f"weights of '{TINY_VIT}'")):
        load_clip(TINY_RN, out)


# --------------------------------------------------------------------------- text embeddings


def test_build_text_embeddings_for_config(tmp_path):
    cache_root = tmp_path / 'cache'
    result = run_tool('build_text_embeddings', SAMPLE_CONFIG, '--random-weights', '--cfg-options',
                      f'model.clip.model_name={TINY_VIT}', cache_dir=cache_root)
    assert result.returncode == 0, result.stderr
    paths = re.findall(r'^\s*cache file\s+(\S+)$', result.stdout, flags=re.M)
    assert len(paths) == 1, result.stdout
    path = paths[0]
    assert path.startswith(str(cache_root)) and osp.isfile(path)
    assert re.search(r'classes\s+8 \(17 names\), 85 templates', result.stdout), result.stdout

    expected = class_text_embeddings(ClipSpec(TINY_VIT, None), load_vocabulary('sample_scenes'),
                                     resolve_templates('vild'), cache_dir=str(tmp_path / 'other'),
                                     use_cache=False)
    cached = torch.load(path, map_location='cpu', weights_only=True)
    assert cached['embeddings'].shape == expected.shape
    torch.testing.assert_close(cached['embeddings'], expected, atol=1e-6, rtol=0)


def test_build_text_embeddings_without_config(tmp_path):
    from maskclip.text.embeddings import cache_path
    result = run_tool('build_text_embeddings', '--model', TINY_RN, '--random-weights',
                      '--classes', 'voc21', '--templates', 'single', '--cache-dir', tmp_path,
                      cache_dir=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    spec, vocabulary = ClipSpec(TINY_RN, None), load_vocabulary('voc21')
    path = cache_path(spec, vocabulary, resolve_templates('single'), str(tmp_path))
    assert f'cache file  {path}' in result.stdout
    expected = class_text_embeddings(spec, vocabulary, resolve_templates('single'),
                                     use_cache=False, progress=False)
    torch.testing.assert_close(torch.load(path, weights_only=True)['embeddings'], expected,
                               atol=1e-6, rtol=0)
    # the tool checks the weights before encoding anything
    result = run_tool('build_text_embeddings', '--model', TINY_RN, '--pretrained',
                      tmp_path / 'missing.pt', '--classes', 'voc21', '--cache-dir', tmp_path,
                      cache_dir=tmp_path)
    assert result.returncode == 2 and 'not found' in result.stderr
