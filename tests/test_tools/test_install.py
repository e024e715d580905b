"""tools/install.sh: a locked environment, and mmcv built with CUDA hidden (its CPU ops)."""
import os
import os.path as osp
import re
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
INSTALL = osp.join(ROOT, 'tools', 'install.sh')


def read_requirements(name):
    with open(osp.join(ROOT, 'requirements', name)) as f:
        lines = [line.split('#')[0].strip() for line in f]
    return [line for line in lines if line]


def name_of(requirement):
    return re.split(r'[<>=!~ \[;]', requirement, maxsplit=1)[0].lower().replace('_', '-')


def test_lock_pins_every_package_exactly_and_agrees_with_the_constraints():
    lock = read_requirements('lock.txt')
    pins = {}
    for line in lock:
        match = re.fullmatch(r'([A-Za-z0-9_.\-]+)(==|===)([^=\s]+)', line)
        assert match, f'not an exact pin: {line!r}'
        pins[match.group(1).lower().replace('_', '-')] = match.group(3)
    for requirement in read_requirements('runtime.txt') + read_requirements('tests.txt'):
        assert name_of(requirement) in pins, f'{requirement} is not in requirements/lock.txt'
    for constraint in read_requirements('constraints.txt'):
        exact = re.fullmatch(r'([A-Za-z0-9_.\-]+)(===|==)([^,\s]+)', constraint)
        if exact:
            assert pins[name_of(constraint)] == exact.group(3), constraint
    assert 'torch===' in open(osp.join(ROOT, 'requirements', 'lock.txt')).read()
    script = open(INSTALL).read()
    assert '--no-deps -r' in script and 'pip check' in script  # nothing resolved at install


def plan(tmp_path, **env):
    """``install.sh --print-mmcv-build`` with a venv whose python is this one."""
    venv = tmp_path / 'venv'
    (venv / 'bin').mkdir(parents=True, exist_ok=True)
    python = venv / 'bin' / 'python'
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    full_env = {k: v for k, v in os.environ.items() if k != 'MASKCLIP_MMCV_CUDA_OPS'}
    full_env.update(MASKCLIP_VENV=str(venv), MASKCLIP_WHEEL_CACHE=str(tmp_path / 'wheels'), **env)
    out = subprocess.run(['bash', INSTALL, '--print-mmcv-build'], env=full_env, check=True,
                         capture_output=True, text=True).stdout
    return dict(line.split('=', 1) for line in out.splitlines())


def test_mmcv_is_built_with_cuda_hidden_and_cached_by_that_choice(tmp_path):
    import torch
    tag = f'torch{torch.__version__}-cp{sys.version_info[0]}{sys.version_info[1]}'
    cpu = plan(tmp_path)
    assert cpu['cache'] == str(tmp_path / 'wheels' / f'{tag}-cpu-ops')
    assert cpu['env'].split() == ['MMCV_WITH_OPS=1', 'CUDA_VISIBLE_DEVICES=', 'FORCE_CUDA=0']
    # under that environment torch sees no GPU, so mmcv's setup.py compiles its CPU ops only
    env = dict(os.environ, **dict(item.split('=', 1) for item in cpu['env'].split()))
    seen = subprocess.run([sys.executable, '-c', 'import torch; print(torch.cuda.is_available())'],
                          env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert seen == 'False'
    cuda = plan(tmp_path, MASKCLIP_MMCV_CUDA_OPS='1')
    assert cuda['cache'] == str(tmp_path / 'wheels' / f'{tag}-cuda-ops') != cpu['cache']
    assert 'FORCE_CUDA=1' in cuda['env'].split() and 'CUDA_VISIBLE_DEVICES=' not in cuda['env']


def test_importing_the_packages_registers_and_imports_nothing_heavy():
    """`import maskclip` / `import reclip` import no model code (configs list the registering
    submodules in custom_imports); the API is imported on first use."""
    code = ('import sys, maskclip, reclip\n'
            'heavy = sorted({m for m in sys.modules if m.split(".")[0] in ("torch", "mmseg", "mmcv")'
            ' or m.startswith(("maskclip.models", "reclip.models", "maskclip.datasets"))})\n'
            'print(len(heavy), heavy[:5])\n'
            'from mmseg.registry import MODELS\n'
            'print(MODELS.get("MaskClipSegmentor"))\n'
            'maskclip.register_all_modules()\n'
            'print(MODELS.get("MaskClipSegmentor").__name__, callable(maskclip.create_segmenter))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, HF_HUB_OFFLINE='1')).stdout.splitlines()
    assert out == ['0 []', 'None', 'MaskClipSegmentor True']
