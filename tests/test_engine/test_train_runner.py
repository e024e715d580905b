"""tools/train.py and tools/dist_train.sh on CPU: a tiny mmseg model trained on the sample data.

The training subprocesses run with CUDA hidden, so the CPU path (SyncBN -> BN, gloo, DDP without
device ids) is what is tested on every machine.
"""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer

from maskclip.utils.runtime import adapt_cfg_to_machine

from ..conftest import free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')

# Inherits nothing from configs/: an 8-channel ResNet-18 + FCN head, SyncBN on purpose.
TINY_CONFIG = """
default_scope = 'mmseg'
custom_imports = dict(imports=['maskclip'], allow_failed_imports=False)
randomness = dict(seed=0, deterministic=True)
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
                           seg_pad_val=255, size=(64, 64)),
    backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, num_stages=4,
                  out_indices=(3, ), norm_cfg=norm_cfg),
    # no dropout: it draws from torch's RNG, whose state checkpoints do not keep
    decode_head=dict(type='FCNHead', in_channels=64, in_index=0, channels=8, num_convs=1,
                     concat_input=False, dropout_ratio=0.0, num_classes=8, norm_cfg=norm_cfg,
                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                                      loss_weight=1.0)),
    train_cfg=dict(), test_cfg=dict(mode='whole'))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='SampleScenesDataset', data_root=DATA_ROOT,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                           dict(type='RandomCrop', crop_size=(64, 64)),
                           dict(type='PackSegInputs')]))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=4, val_interval=1000)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005))
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=4, by_epoch=False)]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=1, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=False)
log_level = 'INFO'
"""
ITER_LOG = re.compile(r'Iter\(train\) \[(\d+)/(\d+)\]')


def write_config(directory):
    path = osp.join(str(directory), 'tiny_fcn.py')
    with open(path, 'w') as f:
        f.write(TINY_CONFIG.replace('DATA_ROOT', repr(SAMPLE)))
    return path


def cpu_env(**extra):
    return dict(os.environ, HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', **extra)


def run_train(*args, timeout=300):
    result = subprocess.run([sys.executable, 'tools/train.py', *args], cwd=ROOT, env=cpu_env(),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def load(path):
    return torch.load(path)  # torch's default: weights_only=True


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    """One uninterrupted 4-iteration run: (config path, work dir, log)."""
    tmp = tmp_path_factory.mktemp('train_full')
    config, work = write_config(tmp), str(tmp / 'work')
    return config, work, run_train(config, '--work-dir', work)


def test_single_process_training(full_run):
    _, work, log = full_run
    assert 'No CUDA: replaced 2 SyncBN norm config(s) in the model by BN.' in log
    assert [int(i) for i, _ in ITER_LOG.findall(log)] == [1, 2, 3, 4]
    assert 'Iter(train) [4/4]' in log
    assert sorted(f for f in os.listdir(work) if f.endswith('.pth')) == ['iter_2.pth', 'iter_4.pth']
    checkpoint = load(osp.join(work, 'iter_4.pth'))
    assert checkpoint['meta']['iter'] == 4
    assert len(checkpoint['message_hub']['log_scalars']['train/loss'].data[0]) == 4
    assert all(torch.isfinite(v).all() for v in checkpoint['state_dict'].values())
    # BN, not SyncBN: running statistics were updated by the 4 iterations
    assert int(checkpoint['state_dict']['backbone.stem.1.num_batches_tracked']) == 4


def assert_same_training_state(resumed, reference):
    a, b = resumed['state_dict'], reference['state_dict']
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f'{key} differs from the uninterrupted run'
    states_a, states_b = resumed['optimizer']['state'], reference['optimizer']['state']
    assert states_a.keys() == states_b.keys() and len(states_a) > 0
    for index in states_a:
        assert torch.equal(states_a[index]['momentum_buffer'], states_b[index]['momentum_buffer'])
    assert resumed['param_schedulers'] == reference['param_schedulers']
    for key in ['train/loss', 'train/lr']:
        logs_a, logs_b = (ckpt['message_hub']['log_scalars'][key].data[0]
                          for ckpt in (resumed, reference))
        assert len(logs_a) == 4 and np.array_equal(logs_a, logs_b)


def test_interrupted_training_resumes_bit_identically(full_run, tmp_path):
    config, full_work, _ = full_run
    reference = load(osp.join(full_work, 'iter_4.pth'))
    work = str(tmp_path / 'work')
    first = run_train(config, '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=2')
    assert [int(i) for i, _ in ITER_LOG.findall(first)] == [1, 2]
    # the interrupted run saved exactly what the uninterrupted one had after 2 iterations
    for key, value in load(osp.join(full_work, 'iter_2.pth'))['state_dict'].items():
        assert torch.equal(load(osp.join(work, 'iter_2.pth'))['state_dict'][key], value)

    # --resume alone: the latest checkpoint of the work dir
    auto = run_train(config, '--work-dir', work, '--resume')
    assert f'Resuming from {work}/iter_2.pth (the latest checkpoint of {work})' in auto
    assert 'resumed epoch: 0, iter: 2' in auto
    assert [int(i) for i, _ in ITER_LOG.findall(auto)] == [3, 4]
    assert_same_training_state(load(osp.join(work, 'iter_4.pth')), reference)

    # --resume CHECKPOINT: that file, into another work dir
    other = str(tmp_path / 'other')
    explicit = run_train(config, '--work-dir', other, '--resume', osp.join(work, 'iter_2.pth'))
    assert 'Auto resumed' not in explicit and 'resumed epoch: 0, iter: 2' in explicit
    assert [int(i) for i, _ in ITER_LOG.findall(explicit)] == [3, 4]
    assert_same_training_state(load(osp.join(other, 'iter_4.pth')), reference)


def test_a_kill_while_saving_leaves_a_resumable_run(full_run, tmp_path):
    """The process dies half way through writing iter_3.pth (one checkpoint kept, every
    iteration saved): last_checkpoint still names the complete iter_2.pth, which is still there,
    and --resume continues bit-identically to the uninterrupted run."""
    config, full_work, _ = full_run
    reference = load(osp.join(full_work, 'iter_4.pth'))
    work = str(tmp_path / 'work')
    options = ['default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=1']
    dying = tmp_path / 'dying.py'
    dying.write_text(f"_base_ = [{config!r}]\n"
                     "custom_imports = dict(imports=['maskclip', "
                     "'tests.test_engine.kill_during_save'], allow_failed_imports=False)\n"
                     "custom_hooks = [dict(type='KillDuringSaveHook', at_iter=3)]\n")
    killed = subprocess.run(
        [sys.executable, 'tools/train.py', str(dying), '--work-dir', work, '--cfg-options',
         *options], cwd=ROOT, env=cpu_env(PYTHONPATH=ROOT), capture_output=True, text=True,
        timeout=300)
    assert killed.returncode == 137, killed.stderr[-3000:]
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == osp.join(work, 'iter_2.pth')
    assert not osp.exists(osp.join(work, 'iter_3.pth'))  # only its unfinished temporary file
    assert [name for name in os.listdir(work) if name.endswith('.tmp')]
    load(osp.join(work, 'iter_2.pth'))  # complete
    resumed = run_train(config, '--work-dir', work, '--resume', '--cfg-options', *options)
    assert f'Resuming from {work}/iter_2.pth' in resumed
    assert [int(i) for i, _ in ITER_LOG.findall(resumed)] == [3, 4]
    assert_same_training_state(load(osp.join(work, 'iter_4.pth')), reference)
    assert not osp.exists(osp.join(work, 'iter_2.pth'))  # outdated, deleted after iter_3 was whole


def test_resume_refuses_an_empty_work_dir_and_a_damaged_checkpoint(full_run, tmp_path):
    from maskclip.engine.checkpoint_files import resume_checkpoint
    with pytest.raises(ValueError, match='nothing to resume in'):
        resume_checkpoint(str(tmp_path), 'auto')
    _, full_work, _ = full_run
    work = tmp_path / 'damaged'
    work.mkdir()
    for name in ('iter_2.pth', 'iter_4.pth'):
        (work / name).write_bytes(open(osp.join(full_work, name), 'rb').read())
    data = (work / 'iter_4.pth').read_bytes()
    (work / 'iter_4.pth').write_bytes(data[:len(data) // 2])
    (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
    with pytest.raises(ValueError, match=f'{work}/iter_4.pth is damaged.*--resume {work}/iter_2.pth'):
        resume_checkpoint(str(work), 'auto')
    assert resume_checkpoint(str(work), str(work / 'iter_2.pth')) == str(work / 'iter_2.pth')
    assert resume_checkpoint(str(work), None) is None
    # a folder given as the checkpoint; a work dir moved after training; not a checkpoint
    with pytest.raises(ValueError, match=f'{work} is a folder.*--work-dir {work} --resume'):
        resume_checkpoint(str(tmp_path), str(work))
    (work / 'last_checkpoint').write_text('/gone/elsewhere/iter_2.pth')
    assert resume_checkpoint(str(work), 'auto') == str(work / 'iter_2.pth')
    (tmp_path / 'config.py').write_text('x = 1\n')
    with pytest.raises(ValueError, match='is not a checkpoint'):
        resume_checkpoint(str(work), str(tmp_path / 'config.py'))


def test_a_checkpoint_of_another_model_is_refused(full_run, tmp_path):
    """mmengine would load it non-strictly and evaluate a half-random model."""
    from maskclip.engine.checkpoint_files import check_checkpoint_fits
    _, full_work, _ = full_run
    path = osp.join(full_work, 'iter_4.pth')
    state = load(path)['state_dict']
    model = torch.nn.Module()
    model.backbone = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match=r'does not fit the model.*weights missing \(e\.g\. '
                       r'backbone\.weight.*unexpected weights'):
        check_checkpoint_fits(model, path)
    torch.save({'state_dict': state}, tmp_path / 'same.pth')

    class Same(torch.nn.Module):
        def state_dict(self, *args, **kwargs):
            return dict(state)

    check_checkpoint_fits(Same(), str(tmp_path / 'same.pth'))  # every key and shape fits
    other = dict(state, **{'decode_head.conv_seg.weight': torch.zeros(3, 3, 1, 1)})
    torch.save({'state_dict': other}, tmp_path / 'shape.pth')
    with pytest.raises(ValueError, match='of another shape.*decode_head.conv_seg.weight'):
        check_checkpoint_fits(Same(), str(tmp_path / 'shape.pth'))


def test_checkpoints_load_with_weights_only_kept_on(full_run, tmp_path):
    _, work, _ = full_run
    path = osp.join(work, 'iter_4.pth')
    # without maskclip's allowlist, torch's default safe loading refuses mmengine's checkpoint
    bare = subprocess.run([sys.executable, '-c', f'import torch; torch.load({path!r})'],
                          env=cpu_env(), capture_output=True, text=True, timeout=120)
    assert bare.returncode != 0
    assert 'Weights only load failed' in bare.stderr and 'Unsupported global' in bare.stderr
    # with it (imported above), the default torch.load works
    checkpoint = torch.load(path)
    assert isinstance(checkpoint['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    assert checkpoint['message_hub']['log_scalars']['train/loss'].statistics('current') > 0
    # the getattr registered for HistoryBuffer's methods is a stand-in, not builtins.getattr
    assert getattr not in torch.serialization.get_safe_globals()
    torch.save({'x': Sneaky()}, tmp_path / 'sneaky.pth')
    with pytest.raises(Exception, match='Refusing getattr'):
        torch.load(tmp_path / 'sneaky.pth')


class Sneaky:
    """Pickles as getattr(HistoryBuffer, 'update'): not a statistics method, must be refused."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, 'update')


def test_two_process_training_over_dist_train_sh(tmp_path):
    config, work = write_config(tmp_path), str(tmp_path / 'work')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work], cwd=ROOT,
        env=cpu_env(PORT=str(free_port()), PYTHON=sys.executable),
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "'backend': 'gloo'" in log and "type='MMDistributedDataParallel'" in log
    assert [int(i) for i, _ in ITER_LOG.findall(log)] == [1, 2, 3, 4]  # rank 0 logs
    checkpoint = load(osp.join(work, 'iter_4.pth'))
    assert checkpoint['meta']['iter'] == 4
    # DDP's wrapper does not leak into the saved names
    assert not any(key.startswith('module.') for key in checkpoint['state_dict'])


def nested_model_cfg():
    sync = dict(type='SyncBN', requires_grad=True)
    return Config(dict(
        model=dict(type='EncoderDecoder', backbone=dict(type='ResNetV1c', norm_cfg=dict(sync)),
                   neck=[dict(type='FPN', norm_cfg=dict(type='MMSyncBN')),
                         dict(type='Identity', layers=(dict(norm=dict(sync)), ))],
                   decode_head=dict(type='FCNHead', norm_cfg=dict(sync)),
                   auxiliary_head=[dict(type='FCNHead', norm_cfg=dict(sync))]),
        env_cfg=dict(dist_cfg=dict(backend='nccl'))))


def test_adapt_cfg_to_machine():
    cfg = adapt_cfg_to_machine(nested_model_cfg(), 'none', cuda=False)
    assert 'SyncBN' not in cfg.pretty_text
    assert cfg.pretty_text.count("type='BN'") == 5
    assert cfg.model.neck[1].layers[0].norm == dict(type='BN', requires_grad=True)
    assert 'model_wrapper_cfg' not in cfg and cfg.env_cfg.dist_cfg.backend == 'nccl'

    untouched = adapt_cfg_to_machine(nested_model_cfg(), 'pytorch', cuda=True)
    assert untouched.pretty_text.count("type='SyncBN'") == 4
    assert 'model_wrapper_cfg' not in untouched

    cfg = nested_model_cfg()
    cfg.find_unused_parameters = True
    adapt_cfg_to_machine(cfg, 'pytorch', cuda=False)
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         broadcast_buffers=False, find_unused_parameters=True)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'

    cfg = nested_model_cfg()
    cfg.model_wrapper_cfg = dict(type='InferenceOnlyWrapper')
    adapt_cfg_to_machine(cfg, 'pytorch', cuda=False)
    assert cfg.model_wrapper_cfg == dict(type='InferenceOnlyWrapper')

    cfg = nested_model_cfg()
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=[0],
                                 find_unused_parameters=True)
    adapt_cfg_to_machine(cfg, 'slurm', cuda=False)
    assert cfg.model_wrapper_cfg == dict(type='MMDistributedDataParallel', device_ids=None,
                                         find_unused_parameters=True)

    cfg = nested_model_cfg()
    cfg.optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')
    adapt_cfg_to_machine(cfg, 'none', cuda=False)  # evaluation builds no optimizer
    with pytest.raises(ValueError, match='needs a GPU'):
        adapt_cfg_to_machine(cfg, 'none', training=True, cuda=False)
    adapt_cfg_to_machine(cfg, 'none', training=True, cuda=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason='--amp is refused only without CUDA')
def test_amp_without_gpu_is_a_clean_error(tmp_path):
    result = subprocess.run([sys.executable, 'tools/train.py', write_config(tmp_path), '--amp',
                             '--work-dir', str(tmp_path / 'work')], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'ERROR: Mixed-precision training (--amp / AmpOptimWrapper) needs a GPU' in \
        result.stderr
    assert not os.path.exists(tmp_path / 'work')  # refused before the Runner was built
