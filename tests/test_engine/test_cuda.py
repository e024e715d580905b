"""What only a GPU exercises (skipped without one; .dev_scripts/gpu_check.sh runs them):
the frozen teacher under autocast, batched windows and fused blocks on CUDA, one-process DDP
over NCCL with SyncBN kept."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import maskclip

from ..conftest import ROOT, TINY_VIT, free_port
from ..test_models.test_maskclip_plus import build_student, make_data, synthetic_batch
from .test_train_runner import write_config

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')]


def test_teacher_autocast_agrees_with_fp32():
    """MaskCLIP+'s frozen MaskCLIP teacher (ViT-B/16, random weights) in fp16 autocast gives
    the pseudo labels of its fp32 run on >= 99.5% of pixels."""
    teacher = dict(type='MaskClipSegmentor', clip=dict(model_name='ViT-B-16', pretrained=None),
                   backbone=dict(type='MaskClipViT'),
                   decode_head=dict(type='MaskClipHead', class_names=['red', 'green', 'blue',
                                                                        'dark'],
                                    templates='single'))
    images, labels = synthetic_batch(4, seed=0)
    shares = []
    for amp in (False, True):
        model = build_student(teacher=teacher, teacher_amp=amp).cuda()
        data = model.data_preprocessor(make_data(images, labels), False)
        with torch.no_grad():
            results = model.teacher_predict(data['inputs'], data['data_samples'])
        shares.append(torch.stack([r.pred_sem_seg.data for r in results]))
    agree = (shares[0] == shares[1]).float().mean().item()
    print(f'teacher fp16 autocast vs fp32: {agree:.4f} of pixels agree')
    assert agree >= 0.995


def test_batched_windows_on_cuda():
    segmenter = maskclip.create_segmenter(
        TINY_VIT, None, 'voc21', templates='single', device='cuda',
        test_cfg=dict(mode='slide', crop_size=(64, 64), stride=(32, 32)))
    image = np.random.default_rng(0).integers(0, 256, (160, 224, 3), dtype=np.uint8)
    logits = {}
    for window_batch in (1, 16):
        segmenter.model.test_cfg['window_batch_size'] = window_batch
        logits[window_batch] = segmenter.predict_logits(image)
    torch.testing.assert_close(logits[16], logits[1], atol=1e-4, rtol=0)


@pytest.mark.parametrize('mode', ['maskclip', 'sclip'])
def test_fused_blocks_on_cuda_equal_open_clips_blocks(mode):
    """The fused tower (SDPA, cuBLAS) against open_clip's blocks on the GPU, fp32 and fp16."""
    from maskclip.models import MaskClipViT
    clip = dict(model_name='ViT-B-16', pretrained=None)
    fused = MaskClipViT(clip, mode=mode).cuda()
    plain = MaskClipViT(clip, mode=mode, fused_blocks=False).cuda()
    images = torch.randn(4, 3, 224, 224, device='cuda')
    with torch.no_grad():
        torch.testing.assert_close(fused(images).dense, plain(images).dense, atol=1e-3, rtol=1e-3)
        with torch.autocast('cuda', dtype=torch.float16):
            ours, theirs = fused(images).dense.float(), plain(images).dense.float()
    cosine = torch.nn.functional.cosine_similarity(ours, theirs, dim=1)
    assert cosine.min().item() > 0.999


def test_one_process_ddp_over_nccl_keeps_syncbn(tmp_path):
    config, work = write_config(tmp_path), str(tmp_path / 'work')
    result = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '1', '--work-dir', work], cwd=ROOT,
        env=dict(os.environ, HF_HUB_OFFLINE='1', PORT=str(free_port()), PYTHON=sys.executable),
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'Distributed training: True' in log
    assert re.search(r'Iter\(train\) \[4/4\]', log)
    dumped = open(os.path.join(work, 'tiny_fcn.py')).read()  # the config as the run used it
    assert "type='SyncBN'" in dumped and "backend='nccl'" in dumped  # kept on a GPU
