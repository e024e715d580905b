"""What a frozen teacher costs in training: labels upsampled one image at a time, the teacher
run without autograd, text never re-encoded."""
import contextlib

import pytest
import torch
from mmengine.logging import MessageHub
from mmseg.models.utils import resize
from open_clip.transformer import Transformer

from maskclip.models.teacher import upsampled_argmax
from maskclip.utils.profiling import peak_memory

from ..conftest import TINY_VIT
from .test_maskclip_plus import build_student, make_data, synthetic_batch, train


@pytest.mark.parametrize('align_corners', [False, True])
def test_upsampled_argmax_equals_the_whole_batch_resize(align_corners):
    logits = torch.randn(3, 5, 7, 9, generator=torch.Generator().manual_seed(0))
    expected = resize(logits, size=(50, 61), mode='bilinear',
                      align_corners=align_corners).argmax(dim=1, keepdim=True)
    got = upsampled_argmax(logits, (50, 61), align_corners)
    assert got.shape == (3, 1, 50, 61) and torch.equal(got, expected)
    assert torch.equal(upsampled_argmax(logits, (7, 9)), logits.argmax(dim=1, keepdim=True))


def test_upsampled_argmax_keeps_one_image_of_full_resolution_scores():
    batch, classes, size = 8, 20, (256, 256)
    logits = torch.randn(batch, classes, 16, 16)
    one_image = classes * size[0] * size[1] * 4 / 2 ** 20  # MiB of one float32 score map
    whole = peak_memory(lambda: resize(logits, size=size, mode='bilinear').argmax(dim=1))
    ours = peak_memory(lambda: upsampled_argmax(logits, size))
    assert whole > 0.9 * batch * one_image  # the measure sees the batch's maps
    assert ours < 2 * one_image, (ours, one_image)


@contextlib.contextmanager
def watch_teacher(model):
    """Records whether grad mode was on in any teacher module's forward, and counts forward
    passes of text transformers (any open_clip Transformer outside the image backbones)."""
    record = dict(grad_in_teacher=False, teacher_calls=0, text_passes=0)

    def teacher_hook(module, args):
        record['grad_in_teacher'] |= torch.is_grad_enabled()
        record['teacher_calls'] += 1

    def text_hook(module, args):
        record['text_passes'] += 1

    handles = [m.register_forward_pre_hook(teacher_hook) for m in model.teacher.modules()]
    handles += [m.register_forward_pre_hook(text_hook) for name, m in model.named_modules()
                if isinstance(m, Transformer) and 'backbone' not in name]
    try:
        yield record
    finally:
        for handle in handles:
            handle.remove()


def test_maskclip_plus_teacher_runs_without_grad_and_text_is_never_encoded():
    teacher = dict(type='MaskClipSegmentor', clip=dict(model_name=TINY_VIT, pretrained=None),
                   backbone=dict(type='MaskClipViT'),
                   decode_head=dict(type='MaskClipHead', templates='single'))
    model = build_student(teacher=teacher)
    with watch_teacher(model) as record:
        logs = train(model, [synthetic_batch(2, seed) for seed in range(2)])
    assert all(torch.isfinite(log['loss']) for log in logs)
    assert record['teacher_calls'] > 0 and not record['grad_in_teacher']
    assert record['text_passes'] == 0
    MessageHub.get_current_instance().update_info('iter', 0)
    # the labels are the argmax of the teacher's encode_decode, its head's resize included
    images, labels = synthetic_batch(2, 5)
    data = model.data_preprocessor(make_data(images, labels), True)
    shape = tuple(data['inputs'].shape[-2:])
    with torch.no_grad():
        full = model.teacher.encode_decode(data['inputs'], [dict(img_shape=shape)] * 2)
    assert torch.equal(model.teacher_logits(data['inputs']), full)
    pseudo = model.pseudo_ground_truth(data['inputs'], None, data['data_samples'])
    assert torch.equal(pseudo[:, 0], full.argmax(dim=1))
