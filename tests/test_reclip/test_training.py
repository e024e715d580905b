"""ReCLIP rectify -> distill in one command (tools/dist_train.sh, 2 gloo processes on CPU).

Shrunk copies of the VOC configs (they inherit the real ones): tiny random CLIP, a tiny DeepLabv2
student, the sample scenes at 64x64 without random augmentation, 2 epochs of rectification and 4
iterations of distillation. Interruptions are reproduced by removing what a killed run would not
have written (its later checkpoints and the stage's done marker); the resumed runs must end
bit-identical to the uninterrupted one.
"""
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from ..conftest import TINY_VIT, free_port

pytestmark = pytest.mark.slow

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')
RECLIP = osp.join(ROOT, 'configs', 'reclip')

DATA = f"""
resize = dict(type='Resize', scale=(64, 64), keep_ratio=False)
load, pack = dict(type='LoadImageFromFile'), dict(type='PackSegInputs')
dataset = dict(_delete_=True, type='SampleScenesDataset', data_root={SAMPLE!r},
               data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
               indices=4, pipeline=[load, dict(type='LoadAnnotations'), resize, pack])
val_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                      dataset=dict(dataset, pipeline=[load, resize, dict(type='LoadAnnotations'),
                                                      pack]))
test_dataloader = val_dataloader
randomness = dict(seed=0, deterministic=True)
"""
RECTIFY = f"""
_base_ = [{osp.join(RECLIP, 'reclip-rectification_vit-b16_1xb1-50e_voc12-20-336x336.py')!r}]
model = dict(clip=dict(model_name={TINY_VIT!r}, pretrained=None),
             data_preprocessor=dict(size=(64, 64)),
             decode_head=dict(class_names='sample_scenes', templates='single',
                              existence=(0.0, 2)))
{DATA}
train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False, dataset=dataset)
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=8, by_epoch=True,
                        convert_to_iter_based=True)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1, max_keep_ckpts=-1))
recipe_gpus = 2  # these shrunk recipes run on 2 gloo processes
"""
DISTILL = f"""
_base_ = [{osp.join(RECLIP, 'reclip-distillation_vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')!r}]
model = dict(
    data_preprocessor=dict(size=(64, 64)),
    teacher=dict(clip=dict(model_name={TINY_VIT!r}, pretrained=None),
                 data_preprocessor=dict(size=(64, 64)),
                 decode_head=dict(class_names='sample_scenes', templates='single',
                                  existence=(0.0, 2))),
    backbone=dict(depth=18, stem_channels=8, base_channels=8, init_cfg=None),
    decode_head=dict(in_channels=64, channels=32, dilations=(1, 2)))
{DATA}
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False, dataset=dataset)
train_cfg = dict(max_iters=4, val_interval=4)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=4, by_epoch=False)]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=-1))
recipe_gpus = 2  # these shrunk recipes run on 2 gloo processes
"""
PIPELINE = """
stages = [dict(name='rectification', config='rectify.py'),
          dict(name='distillation', config='distill.py', checkpoint_to='model.teacher_checkpoint')]
"""
ITER = re.compile(r'Iter\(train\) \[(\d+)/4\]')
EPOCH = re.compile(r'Epoch\(train\) +\[(\d+)\]\[(\d+)/2\]')


def write_configs(directory) -> str:
    for name, text in (('rectify.py', RECTIFY), ('distill.py', DISTILL),
                       ('pipeline.py', PIPELINE)):
        with open(osp.join(directory, name), 'w') as f:
            f.write(text)
    return osp.join(directory, 'pipeline.py')


def dist_train(config, work, *extra):
    env = dict(os.environ, HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', PORT=str(free_port()),
               PYTHON=sys.executable)
    result = subprocess.run(['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work,
                             *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


def state(path):
    return torch.load(path)['state_dict']  # torch's default safe loading


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('reclip_pipeline')
    config, work = write_configs(str(tmp)), str(tmp / 'work')
    return config, work, dist_train(config, work)


def test_rectify_then_distill_in_one_command(full_run):
    config, work, log = full_run
    rect_dir, dist_dir = osp.join(work, 'rectification'), osp.join(work, 'distillation')
    assert log.index('Stage 1/2: rectification (starting') < log.index(
        'Stage 2/2: distillation (starting')
    assert 'Distributed training: True' in log and "'backend': 'gloo'" in log
    # 4 sample images over 2 processes at batch 1: 2 iterations per epoch, 2 epochs
    assert [tuple(map(int, m)) for m in EPOCH.findall(log)] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert [int(i) for i in ITER.findall(log)] == [1, 2, 3, 4]
    rect_ckpt = osp.join(rect_dir, 'epoch_2.pth')
    with open(osp.join(rect_dir, 'stage_done.json')) as f:
        assert json.load(f)['checkpoint'] == rect_ckpt
    # the distillation stage's teacher loaded the rectification stage's final checkpoint
    assert f'Loads checkpoint by local backend from path: {rect_ckpt}' in log
    assert f"teacher_checkpoint='{rect_ckpt}'" in log or rect_ckpt in log

    rect_state = state(rect_ckpt)  # only what rectification trains: no CLIP weights
    assert rect_state and all(k.startswith('decode_head.') for k in rect_state)
    assert 'decode_head.reference_prompt.context' in rect_state
    student = state(osp.join(dist_dir, 'iter_4.pth'))
    assert not any(k.startswith('teacher.') for k in student)

    # the student's Reference head is W_r of the trained rectification checkpoint
    cfg = Config.fromfile(osp.join(osp.dirname(config), 'rectify.py'))
    cfg.model.data_preprocessor.size = (64, 64)
    with DefaultScope.overwrite_default_scope('mmseg'):
        teacher = MODELS.build(cfg.model)
    initial_context = teacher.decode_head.reference_prompt.context.detach().clone()
    teacher.load_state_dict(rect_state)
    assert not torch.equal(teacher.decode_head.reference_prompt.context, initial_context)
    teacher.eval()
    assert torch.allclose(student['decode_head.conv_seg.reference_embeddings'],
                          teacher.decode_head.reference_embeddings(), atol=1e-6)

    for stage_dir in (rect_dir, dist_dir):  # each stage evaluated at its end
        assert osp.isfile(osp.join(stage_dir, 'stage_done.json'))
    assert log.count('mIoU') >= 2


def interrupt(stage_dir, keep, drop):
    """What a run killed after checkpoint ``keep`` leaves behind."""
    os.remove(osp.join(stage_dir, 'stage_done.json'))
    for name in drop:
        os.remove(osp.join(stage_dir, name))
    with open(osp.join(stage_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(stage_dir, keep))


def test_resume_after_interruption_in_either_stage(full_run, tmp_path):
    config, work, _ = full_run
    reference_rect = state(osp.join(work, 'rectification', 'epoch_2.pth'))
    reference_student = state(osp.join(work, 'distillation', 'iter_4.pth'))

    # killed during distillation: rectification is skipped, distillation resumes at iter 2
    copy = str(tmp_path / 'during_distillation')
    shutil.copytree(work, copy)
    interrupt(osp.join(copy, 'distillation'), 'iter_2.pth', ['iter_4.pth'])
    log = dist_train(config, copy, '--resume')
    assert 'Stage 1/2 (rectification) already finished' in log
    assert 'Stage 2/2: distillation (resuming' in log
    assert [int(i) for i in ITER.findall(log)] == [3, 4] and not EPOCH.findall(log)
    assert_same(state(osp.join(copy, 'distillation', 'iter_4.pth')), reference_student)

    # killed during rectification (after epoch 1): it resumes, then distillation runs afresh
    copy = str(tmp_path / 'during_rectification')
    shutil.copytree(work, copy)
    interrupt(osp.join(copy, 'rectification'), 'epoch_1.pth', ['epoch_2.pth'])
    shutil.rmtree(osp.join(copy, 'distillation'))
    log = dist_train(config, copy, '--resume')
    assert 'Stage 1/2: rectification (resuming' in log and 'resumed epoch: 1' in log
    assert [tuple(map(int, m)) for m in EPOCH.findall(log)] == [(2, 1), (2, 2)]
    assert 'Stage 2/2: distillation (starting' in log
    assert_same(state(osp.join(copy, 'rectification', 'epoch_2.pth')), reference_rect)
    assert_same(state(osp.join(copy, 'distillation', 'iter_4.pth')), reference_student)


def test_tools_test_evaluates_either_stage(full_run, tmp_path):
    """tools/test.py on each stage's config + checkpoint prints the mIoU the stage logged."""
    config, work, log = full_run
    logged = [float(m) for m in re.findall(r'\(val\) .*mIoU: ([\d.]+)', log)]
    assert len(logged) == 2
    directory = osp.dirname(config)
    for (name, checkpoint), expected in zip(
            [('rectify.py', 'rectification/epoch_2.pth'),
             ('distill.py', 'distillation/iter_4.pth')], logged):
        result = subprocess.run(
            [sys.executable, 'tools/test.py', osp.join(directory, name),
             osp.join(work, checkpoint), '--work-dir', str(tmp_path / name)],
            cwd=ROOT, env=dict(os.environ, HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES=''),
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        miou = float(re.search(r'mIoU: ([\d.]+)', result.stdout + result.stderr).group(1))
        assert miou == pytest.approx(expected, abs=0.01)
    # the distilled checkpoint is self-contained: its config names no teacher checkpoint
    assert Config.fromfile(osp.join(directory, 'distill.py')).model.teacher_checkpoint is None
