"""Reduced precision: a config switch (``model.precision``) that runs inference under CUDA
autocast and is off on the CPU; its labels agree with fp32 on >= 99.5% of pixels."""
import numpy as np
import pytest
import torch

import maskclip

from ..conftest import TINY_VIT

SLIDE = dict(mode='slide', crop_size=(112, 112), stride=(56, 56))


def images(count=3, size=(224, 224)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(count)]


def test_reduced_precision_is_off_on_the_cpu():
    fp32 = maskclip.create_segmenter(TINY_VIT, None, 'voc21', templates='single', test_cfg=SLIDE)
    for precision in ('fp16', 'bf16'):
        low = maskclip.create_segmenter(TINY_VIT, None, 'voc21', templates='single',
                                        test_cfg=SLIDE, precision=precision)
        for image in images(1):
            torch.testing.assert_close(low.predict_logits(image), fp32.predict_logits(image),
                                       atol=0, rtol=0)


def agreement(segmenter, device_type, dtype):
    """Share of pixels whose label under autocast(dtype) equals the fp32 label."""
    shares = []
    for image in images():
        reference = segmenter.predict(image)
        with torch.autocast(device_type, dtype=dtype):
            low = segmenter.predict(image)
        shares.append((low == reference).float().mean().item())
    return float(np.mean(shares))


def test_fp16_autocast_agrees_with_fp32():
    """The computation the GPU switch runs (fp16 autocast through SDPA), here on the CPU's
    autocast: random weights (near-tied scores, the hardest case) agree on >= 99.5%."""
    segmenter = maskclip.create_segmenter(TINY_VIT, None, 'voc21', templates='single',
                                          test_cfg=SLIDE)
    assert agreement(segmenter, 'cpu', torch.float16) >= 0.995


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
@pytest.mark.parametrize('precision, dtype', [('fp16', torch.float16), ('bf16', torch.bfloat16)])
def test_gpu_switch_agrees_with_fp32(precision, dtype):
    fp32 = maskclip.create_segmenter('ViT-B-16', None, 'voc21', templates='single',
                                     test_cfg=SLIDE, device='cuda')
    low = maskclip.create_segmenter('ViT-B-16', None, 'voc21', templates='single',
                                    test_cfg=SLIDE, precision=precision, device='cuda')
    shares = [(low.predict(image) == fp32.predict(image)).float().mean().item()
              for image in images()]
    print(f'{precision}: label agreement with fp32 {np.mean(shares):.4f}')
    assert np.mean(shares) >= (0.995 if precision == 'fp16' else 0.98)
