"""tools/benchmark.py through its command line (tiny random CLIPs): every path is timed and
reported as a ratio to the first row. The numbers themselves are never asserted."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from ..conftest import ROOT, TINY_VIT

MASKCLIP_PLUS = osp.join(
    ROOT, 'configs', 'maskclip_plus',
    'maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')


def benchmark(*args):
    """``{path: (ms, ratio)}`` printed by ``python tools/benchmark.py ARGS``."""
    result = subprocess.run([sys.executable, 'tools/benchmark.py', *args, '--device', 'cpu'],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r'^(\S.*?)\s+([\d.]+)\s+([\d.]+)x\s+\d+$', result.stdout, re.M)
    assert rows, result.stdout
    return {name: (float(ms), float(ratio)) for name, ms, ratio in rows}


def test_every_mode_against_open_clip():
    rows = benchmark('--model', TINY_VIT, '--size', '64', '--modes', 'maskclip', 'sclip',
                     'clearclip', 'naclip', '--repeats', '1', '--warmup', '0')
    assert list(rows) == ['open_clip encode_image'] + [
        f'ours, {mode} dense forward' for mode in ['maskclip', 'sclip', 'clearclip', 'naclip']]
    assert rows['open_clip encode_image'][1] == 1.0  # the reference row
    for ms, ratio in rows.values():
        assert ms > 0 and ratio > 0


def test_backbone_plus_head_paths_and_resnets():
    rows = benchmark('--model', TINY_VIT, '--size', '64', '--repeats', '2', '--warmup', '1',
                     '--modes', 'maskclip', 'baseline', '--head')
    assert len(rows) == 5 and all(ms > 0 for ms, _ in rows.values())
    assert next(iter(rows)) == 'open_clip encode_image'
    # ResNets too: the reference runs natively at the size (attention-pool embedding resized)
    assert len(benchmark('--model', 'tiny-RN-test', '--size', '96', '--repeats', '1',
                         '--warmup', '0')) == 2


def test_train_step_of_maskclip_plus():
    rows = benchmark('--train-step', MASKCLIP_PLUS, '--size', '64', '--repeats', '1',
                     '--warmup', '0', '--cfg-options', f'model.teacher.clip.model_name={TINY_VIT}',
                     'model.decode_head.channels=32', 'model.backbone.depth=18',
                     'model.decode_head.in_channels=512')
    assert list(rows) == ['student-only step (ground truth)',
                          'MaskClipPlusSegmentor step (teacher labels)']


def test_eval_loop_of_the_authors_against_ours():
    """--eval: the same config, weights and inputs, window by window vs windows batched."""
    config = osp.join(ROOT, 'configs', 'sclip', 'sclip_vit-b16_voc21-336x336-slide224.py')
    rows = benchmark('--eval', config, '--size', '64', '--repeats', '1', '--warmup', '0',
                     '--cfg-options', f'model.clip.model_name={TINY_VIT}',
                     'model.test_cfg.crop_size=(32,32)', 'model.test_cfg.stride=(16,16)',
                     'model.test_cfg.window_batch_size=4')
    assert list(rows) == ['authors: fp32, one window per pass',
                          'ours: 4 windows per pass, fused blocks']


def test_gpu_check_script_stops_cleanly_without_a_gpu(tmp_path):
    """.dev_scripts/gpu_check.sh says there is nothing to check and sets nothing up."""
    if torch.cuda.is_available():
        pytest.skip('a GPU is here: the script would run its checks')
    env = dict(os.environ, MASKCLIP_GPU_VENV=str(tmp_path / 'venv'),
               MASKCLIP_GPU_OUT=str(tmp_path / 'out'))
    result = subprocess.run(['bash', '.dev_scripts/gpu_check.sh', str(tmp_path)], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and 'nothing to check' in result.stdout
    assert not (tmp_path / 'venv').exists()
