"""The Python API: create_segmenter / predict_logits / predict, built on the same modules."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import maskclip
from maskclip.models import MaskClipResNet, MaskClipViT
from maskclip.models.builder import CLIP_MEAN, CLIP_STD, encoder_type

from ..conftest import TINY_RN, TINY_VIT


@pytest.fixture(scope='module')
def segmenter():
    return maskclip.create_segmenter(TINY_VIT, pretrained=None, classes=['cat', 'dog, puppy', 'sky'],
                                     templates='single')


def random_image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_predict_logits_is_clip_normalised_dense_logits_upsampled(segmenter):
    image = random_image(75, 101)
    logits = segmenter.predict_logits(image)
    assert logits.shape == (3, 75, 101) and logits.dtype == torch.float32
    x = torch.from_numpy(image).permute(2, 0, 1).float()[None]
    x = (x - torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)) / torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    model = segmenter.model
    coarse = model.decode_head(model.backbone(x))
    assert coarse.shape[-2:] == (4, 6)  # 75 // 16, 101 // 16
    expected = F.interpolate(coarse, size=(75, 101), mode='bilinear', align_corners=False)[0]
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    labels = segmenter.predict(image)
    assert labels.shape == (75, 101) and labels.dtype == torch.int64
    assert torch.equal(labels, expected.argmax(0))
    assert segmenter.class_names == ('cat', 'dog', 'sky')


def test_options_reach_the_modules():
    seg = maskclip.create_segmenter(TINY_RN, pretrained=None, classes='voc20', templates='single',
                                    key_smoothing=True, prompt_denoising=True, mode='baseline',
                                    pd_threshold=0.7)
    assert isinstance(seg.model.backbone, MaskClipResNet) and seg.model.backbone.mode == 'baseline'
    head = seg.model.decode_head
    assert head.key_smoothing and head.prompt_denoising and head.pd_threshold == 0.7
    assert head.num_classes == 20
    assert seg.predict(random_image(64, 96)).shape == (64, 96)
    assert encoder_type('ViT-L-14') == 'MaskClipViT' and encoder_type('RN50x16') == 'MaskClipResNet'
    assert isinstance(maskclip.create_segmenter(TINY_VIT, None, ['a'], templates='single')
                      .model.backbone, MaskClipViT)


def test_class_file_and_pil_input(segmenter, tmp_path):
    path = tmp_path / 'c.txt'
    path.write_text('cat\ndog, puppy\nsky\n')
    seg = maskclip.create_segmenter(TINY_VIT, None, classes=str(path), templates='single')
    image = random_image(40, 50, seed=3)
    torch.testing.assert_close(seg.predict_logits(image), segmenter.predict_logits(image))
    rgba = Image.fromarray(np.dstack([image, np.full((40, 50), 255, np.uint8)]), 'RGBA')
    torch.testing.assert_close(seg.predict_logits(rgba), segmenter.predict_logits(image))


def test_image_forms_are_converted(segmenter):
    """Gray, RGBA, 16-bit, CxHxW and torch tensors give the labels of their uint8 RGB form."""
    image = random_image(40, 50, seed=4)
    gray = image[:, :, 1]
    expected_gray = segmenter.predict(np.repeat(gray[:, :, None], 3, axis=2))
    assert torch.equal(segmenter.predict(gray), expected_gray)
    assert torch.equal(segmenter.predict(gray[:, :, None]), expected_gray)
    expected = segmenter.predict(image)
    assert torch.equal(segmenter.predict(image.astype(np.uint16) * 257), expected)
    assert torch.equal(segmenter.predict(np.ascontiguousarray(image.transpose(2, 0, 1))), expected)
    assert torch.equal(segmenter.predict(torch.from_numpy(image).permute(2, 0, 1)), expected)
    opaque = np.dstack([image, np.full((40, 50), 255, np.uint8)])
    assert torch.equal(segmenter.predict(opaque), expected)
    clear = np.dstack([image, np.zeros((40, 50), np.uint8)])  # transparent: white
    assert torch.equal(segmenter.predict(clear), segmenter.predict(np.full_like(image, 255)))


@pytest.mark.parametrize('bad, message', [
    (np.zeros((10, 10, 3), np.float32), 'got dtype float32.*astype'),
    (torch.rand(3, 10, 10), 'got dtype float32'),
    (np.zeros((10, 10, 3), np.int64), 'got dtype int64'),
    (np.zeros((2, 10, 10, 3), np.uint8), 'a batch of images.*list'),
    (np.zeros((10, 10, 5), np.uint8), '1 \\(gray\\), 3 \\(RGB\\) or 4'),
    (np.zeros((0, 10, 3), np.uint8), 'empty'),
    (np.zeros(10, np.uint8), 'HxW, HxWxC or CxHxW'),
])
def test_bad_images_are_refused_by_name(segmenter, bad, message):
    with pytest.raises(ValueError, match=message):
        segmenter.predict(bad)


def test_bad_model_name_and_classes():
    with pytest.raises(ValueError, match="Unknown CLIP model name 'ViT-B-17'.*ViT-B-16"):
        maskclip.create_segmenter('ViT-B-17', None, ['cat'])
    with pytest.raises(ValueError, match='empty name'):
        maskclip.create_segmenter(TINY_VIT, None, ['cat', ' '], templates='single')
