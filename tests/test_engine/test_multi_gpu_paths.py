"""What a multi-GPU CUDA run depends on, checked on CPU: the recipe's GPU count, per-image L_feat,
fp32 Gumbel masks under autocast, text embeddings computed once, stage records read by rank 0,
cuDNN autotuning for training only."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.config import Config

from maskclip import stages as stages_lib
from maskclip.engine.recipe import check_recipe_world_size

from ..conftest import TINY_VIT, free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RECLIP = osp.join(ROOT, 'configs', 'reclip')
RECTIFY = osp.join(RECLIP, 'reclip-rectification_vit-b16_1xb1-50e_voc12-20-336x336.py')
DISTILL = osp.join(RECLIP, 'reclip-distillation_vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')


# ----------------------------------------------------------------------- recipe GPU count

def test_reclip_stages_declare_their_gpu_counts():
    assert Config.fromfile(RECTIFY).recipe_gpus == 1
    assert Config.fromfile(DISTILL).recipe_gpus == 4


def test_another_world_size_is_refused_or_rescaled_on_request():
    cfg = Config.fromfile(RECTIFY)
    check_recipe_world_size(cfg, 1)  # its own count: nothing to say
    with pytest.raises(ValueError) as error:
        check_recipe_world_size(cfg, 4)
    message = str(error.value)
    assert 'recipe for 1 GPU(s) x batch 1' in message and 'this run has 4 process(es)' in message
    assert '--scale-lr' in message and 'python tools/train.py CONFIG' in message
    assert 'auto_scale_lr' not in cfg
    check_recipe_world_size(cfg, 4, scale_lr=True)
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=1)  # lr x 4 / 1
    distill = Config.fromfile(DISTILL)
    with pytest.raises(ValueError, match=r'tools/dist_train.sh CONFIG 4'):
        check_recipe_world_size(distill, 1)
    check_recipe_world_size(Config(dict(train_dataloader=dict(batch_size=2))), 8)  # undeclared


def test_dist_train_refuses_the_rectification_recipe_on_two_processes(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='', PORT=str(free_port()),
               PYTHON=sys.executable)
    result = subprocess.run(['bash', 'tools/dist_train.sh', RECTIFY, '2', '--random-weights',
                             '--work-dir', str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0, result.stderr[-3000:]
    assert 'ERROR: reclip-rectification' in result.stderr
    assert 'recipe for 1 GPU(s)' in result.stderr and '--scale-lr' in result.stderr
    assert 'exitcode: 2' in result.stderr  # each rank stopped with the one-line error, before
    assert 'ValueError' not in result.stderr and 'Epoch(train)' not in result.stderr  # training


# ------------------------------------------------------------------------ per-image L_feat

@pytest.mark.parametrize('masked', [False, True])
def test_feature_l1_per_image_and_chunk_equals_the_batched_value_and_gradient(masked):
    from reclip.models.segmentors import CHANNEL_CHUNK, feature_l1
    channels = 2 * CHANNEL_CHUNK + 22  # two whole chunks and a partial one
    g = torch.Generator().manual_seed(0)
    student = torch.randn(3, channels, 7, 9, generator=g, requires_grad=True)
    teacher = torch.randn(3, channels, 7, 9, generator=g)
    size = (56, 72)
    mask = torch.rand(3, *size, generator=g) > 0.3 if masked else None
    ours = feature_l1(student, teacher, size, mask)
    ours.backward()
    grad, student.grad = student.grad.clone(), None
    diff = (F.interpolate(student, size=size, mode='bilinear', align_corners=False)
            - F.interpolate(teacher, size=size, mode='bilinear', align_corners=False)).abs()
    batched = diff.mean() if mask is None else diff.permute(1, 0, 2, 3)[:, mask].mean()
    batched.backward()
    torch.testing.assert_close(ours, batched)
    torch.testing.assert_close(grad, student.grad)


def test_feature_l1_keeps_one_chunk_of_full_resolution_maps():
    from maskclip.utils.profiling import peak_memory
    from reclip.models.segmentors import CHANNEL_CHUNK, feature_l1
    channels, size = 256, (128, 128)
    student, teacher = torch.randn(2, channels, 8, 8), torch.randn(2, channels, 8, 8)
    # up, target, their difference and its absolute value: 64 MiB for a whole image
    image_maps = 4 * channels * size[0] * size[1] * 4 / 2 ** 20
    peak = peak_memory(feature_l1, student, teacher, size)
    assert CHANNEL_CHUNK <= channels // 4 and peak <= image_maps / 4 + 1, (peak, image_maps)


# ------------------------------------------------------------ Gumbel masks under autocast

@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_gumbel_masks_under_autocast_equal_the_fp32_masks(dtype):
    """Half-precision logits (as under --amp) give the masks of the same logits in fp32: noise,
    x1000 scaling and softmax run in fp32."""
    from reclip.models.rectification import gumbel_masks
    torch.manual_seed(0)
    logits = (torch.randn(2, 6, 24, 24) * 0.02).to(dtype)  # cosine-sized differences

    def masks(x):
        return gumbel_masks(x, generator=torch.Generator().manual_seed(11))

    with torch.autocast('cpu', dtype=torch.bfloat16):
        amp = masks(logits)
    reference = masks(logits.float())
    assert amp.dtype == dtype
    assert torch.equal(amp.float().argmax(1), reference.argmax(1))


# ------------------------------------------------------- text embeddings computed once

def _embed_on_rank(rank, world_size, port, cache_dir, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), HF_HUB_OFFLINE='1')
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world_size)
    from maskclip.clip import ClipSpec
    from maskclip.text import embeddings
    computed = []
    original = embeddings.encode_names
    embeddings.encode_names = lambda *a, **k: computed.append(rank) or original(*a, **k)
    spec = ClipSpec(model_name=TINY_VIT, pretrained=None)
    result = embeddings.class_text_embeddings(spec, (('cat',), ('dog', 'puppy')), ['a {}.'],
                                              cache_dir=cache_dir, progress=False)
    torch.save(dict(result=result, computed=computed), osp.join(out_dir, f'{rank}.pt'))
    torch.distributed.destroy_process_group()


def test_text_embeddings_are_computed_by_rank_0_only(tmp_path):
    cache, out = tmp_path / 'cache', tmp_path / 'out'
    out.mkdir()
    mp.spawn(_embed_on_rank, args=(2, free_port(), str(cache), str(out)), nprocs=2)
    ranks = [torch.load(out / f'{rank}.pt') for rank in (0, 1)]
    assert ranks[0]['computed'] == [0] and ranks[1]['computed'] == []  # rank 1 read the cache
    assert torch.equal(ranks[0]['result'], ranks[1]['result'])
    assert ranks[0]['result'].shape[0] == 3


# ------------------------------------------------------------- stage records from rank 0

def _records_on_rank(rank, world_size, port, work_dir, out_dir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.distributed.init_process_group('gloo', rank=rank, world_size=world_size)
    if rank == 1:  # what rank 1 would read alone (a file being rewritten): not what it uses
        stages_lib.finished_checkpoint = lambda work_dir: 'rank 1 saw something else'
    answer = stages_lib.from_rank0(lambda: stages_lib.finished_checkpoint(work_dir))
    with open(osp.join(out_dir, f'{rank}.txt'), 'w') as f:
        f.write(str(answer))
    torch.distributed.destroy_process_group()


def test_stage_records_are_read_by_rank_0_for_every_rank(tmp_path):
    checkpoint = tmp_path / 'iter_4.pth'
    checkpoint.write_bytes(b'x')
    stages_lib.mark_finished(str(tmp_path), str(checkpoint))
    mp.spawn(_records_on_rank, args=(2, free_port(), str(tmp_path), str(tmp_path)), nprocs=2)
    answers = [(tmp_path / f'{rank}.txt').read_text() for rank in (0, 1)]
    assert answers == [str(checkpoint)] * 2


# --------------------------------------------------------------------------- cuDNN autotune

def test_cudnn_benchmark_for_training_schedules_and_off_for_tests(tmp_path):
    for path in (RECTIFY, DISTILL, osp.join(ROOT, 'configs', 'maskclip_plus',
                 'maskclip-plus-r50_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')):
        assert Config.fromfile(path).env_cfg.cudnn_benchmark is True, path
    training_free = osp.join(ROOT, 'configs', 'maskclip', 'maskclip_vit-b16_voc12-20-512x512.py')
    assert Config.fromfile(training_free).env_cfg.cudnn_benchmark is False
    from maskclip.engine.test_runner import build_test_cfg, test_options
    checkpoint = tmp_path / 'x.pth'
    checkpoint.write_bytes(b'')  # the test config is built, nothing loads it
    cfg = build_test_cfg(test_options(DISTILL, checkpoint=str(checkpoint)))
    assert cfg.env_cfg.cudnn_benchmark is False
