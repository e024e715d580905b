"""MaskCLIP+ through tools/train.py: zero-shot config, self-training, resume, two processes."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch

from ..conftest import TINY_VIT, free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/maskclip_plus/maskclip-plus-vit-b16_deeplabv2-r101_4xb4-20k_voc12-20-zero-shot-512x512.py'
# the VOC zero-shot config, shrunk to the shipped sample data and tiny networks (unseen: building,
# mountain), with a deterministic pipeline so that runs can be compared bit for bit
SMALL = """
_base_ = [{config!r}]
sample = dict(type='SampleScenesDataset', data_root={data!r}, ann_file='',
              data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'))
model = dict(
    teacher=dict(clip=dict(model_name={tiny!r}), decode_head=dict(templates='single')),
    text_classifier=dict(class_names='sample_scenes', templates='single'),
    unseen_classes=[6, 7], self_training_start=2,
    backbone=dict(depth=18, init_cfg=None), decode_head=dict(in_channels=512, channels=32),
    data_preprocessor=dict(size=(64, 64)))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dict(
    sample, _delete_=True, pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(64, 64), keep_ratio=False), dict(type='PackSegInputs')]))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(
    sample, _delete_=True, pipeline={{{{_base_.test_pipeline}}}}))
test_dataloader = val_dataloader
val_evaluator = dict(unseen_classes=[6, 7])
test_evaluator = val_evaluator
train_cfg = dict(max_iters=4, val_interval=4)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=4, by_epoch=False)]
default_hooks = dict(checkpoint=dict(interval=2, max_keep_ckpts=-1), logger=dict(interval=1))
randomness = dict(seed=0, deterministic=True)
"""


def make_env(root):
    return dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(root / 'cache'),
                PYTHON=sys.executable)


@pytest.fixture
def env(tmp_path):
    return make_env(tmp_path)


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    """One 4-iteration run of the small config (checkpoints at 2 and 4), shared by the tests
    that read its log and the resume test that compares with its final weights."""
    root = tmp_path_factory.mktemp('maskclip_plus_full')
    return root / 'full', train(root / 'full', make_env(root))


def train(work_dir, env, *extra, options=(), launcher=None):
    config = osp.join(osp.dirname(work_dir), 'small_zero_shot.py')
    with open(config, 'w') as f:
        f.write(SMALL.format(config=osp.join(ROOT, CONFIG), tiny=TINY_VIT,
                             data=osp.join(ROOT, 'data', 'sample_scenes')))
    command = ([sys.executable, 'tools/train.py', config] if launcher is None
               else ['bash', 'tools/dist_train.sh', config, str(launcher)])
    options = ['--cfg-options', *options] if options else []
    result = subprocess.run(
        [*command, '--random-weights', '--work-dir', str(work_dir), *extra, *options],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


def weights(path):
    state = torch.load(path, map_location='cpu')['state_dict']  # weights_only, as torch defaults
    assert not any(k.startswith('teacher.') for k in state)
    return state


@pytest.mark.slow
def test_zero_shot_training_switches_to_self_training_and_reports_seen_unseen(full_run):
    work_dir, log = full_run
    assert 'self-training starts' in log and 'self_training_start=2' in log
    logged = re.findall(r'Iter\(train\) \[(\d)/4\].*?pseudo_from_student: ([\d.]+)', log)
    assert [(int(i), float(v)) for i, v in logged] == [(1, 0.0), (2, 0.0), (3, 1.0), (4, 1.0)]
    for key in ['mIoU(seen)', 'mIoU(unseen)', 'hIoU', 'pAcc(unseen)']:
        assert key in log
    assert osp.isfile(work_dir / 'iter_4.pth')


@pytest.mark.slow
def test_resume_continues_from_the_saved_iteration(tmp_path, env, full_run):
    full_dir, full = full_run
    assert 'Iter(train) [4/4]' in full
    train(tmp_path / 'cut', env, options=['train_cfg.max_iters=2'])
    resumed = train(tmp_path / 'cut', env, '--resume')
    assert 'resumed' in resumed.lower() and 'iter_2.pth' in resumed
    assert 'Iter(train) [1/4]' not in resumed and 'Iter(train) [3/4]' in resumed
    reference, again = weights(full_dir / 'iter_4.pth'), weights(tmp_path / 'cut' / 'iter_4.pth')
    for key in reference:
        assert torch.equal(reference[key], again[key]), key


@pytest.mark.slow
def test_two_processes_with_torchrun_on_cpu(tmp_path, env):
    log = train(tmp_path / 'dist', dict(env, PORT=str(free_port())), launcher=2)
    assert 'Iter(train) [4/4]' in log and osp.isfile(tmp_path / 'dist' / 'iter_4.pth')
    assert re.search(r'world_size: 2|Distributed training: True', log)
