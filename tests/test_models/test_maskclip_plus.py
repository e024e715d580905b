"""MaskCLIP+: pseudo-label training, zero-shot label hiding, self-training switch."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

SIZE = 64


@MODELS.register_module(force=True)
class NoisyColourTeacher(nn.Module):
    """A teacher that knows the right answer (a pixel's class is its dominant colour channel, or
    class 3 for dark pixels) but flips a fraction of pixels to random classes (salt and pepper)."""

    def __init__(self, noise: float = 0.0, num_classes: int = 4):
        super().__init__()
        self.noise, self.num_classes = noise, num_classes
        self.class_names = tuple(f'c{i}' for i in range(num_classes))

    def clean_labels(self, inputs):
        labels = inputs.argmax(dim=1)
        return torch.where(inputs.amax(dim=1) < 0, torch.full_like(labels, 3), labels)

    def encode_decode(self, inputs, metas):
        labels = self.clean_labels(inputs)
        flip = torch.rand(labels.shape, device=inputs.device) < self.noise
        noisy = torch.randint(0, self.num_classes, labels.shape, device=inputs.device)
        labels = torch.where(flip, noisy, labels)
        return 10.0 * nn.functional.one_hot(labels, self.num_classes).permute(0, 3, 1, 2).float()


def synthetic_batch(n, seed):
    """Images of coloured rectangles (red / green / blue / dark) and their exact labels."""
    rng = np.random.default_rng(seed)
    colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [20, 20, 20]])
    images, labels = [], []
    for _ in range(n):
        label = np.full((SIZE, SIZE), rng.integers(4), np.int64)
        for _ in range(3):
            y, x = rng.integers(0, SIZE - 16, 2)
            h, w = rng.integers(12, 32, 2)
            label[y:y + h, x:x + w] = rng.integers(4)
        image = colours[label] + rng.integers(-30, 30, (SIZE, SIZE, 3))
        images.append(torch.from_numpy(np.clip(image, 0, 255).astype(np.uint8)).permute(2, 0, 1))
        labels.append(torch.from_numpy(label))
    return images, labels


def make_data(images, labels):
    samples = []
    for image, label in zip(images, labels):
        sample = SegDataSample(gt_sem_seg=PixelData(data=label[None].clone()))
        sample.set_metainfo(dict(img_shape=tuple(image.shape[1:]), ori_shape=tuple(image.shape[1:])))
        samples.append(sample)
    return dict(inputs=[i.clone() for i in images], data_samples=samples)


def build_student(teacher=None, **kwargs):
    cfg = dict(
        type='MaskClipPlusSegmentor',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                               bgr_to_rgb=False, size=(SIZE, SIZE), pad_val=0, seg_pad_val=255),
        teacher=teacher or dict(type='NoisyColourTeacher'),
        text_classifier=dict(class_names=['red', 'green', 'blue', 'dark'], templates='single',
                             clip=dict(model_name=TINY_VIT, pretrained=None)),
        # a shallow ResNet (output stride 4) learns this colour task in a few dozen steps
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=16, base_channels=16,
                      num_stages=2, strides=(1, 1), dilations=(1, 1), out_indices=(1,),
                      norm_cfg=dict(type='BN')),
        decode_head=dict(type='DeepLabV2Head', in_channels=32, channels=32,
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        teacher_amp=False, test_cfg=dict(mode='whole'))
    cfg.update(kwargs)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def train(model, batches, lr=3e-3):
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=lr))
    model.train()
    logs = []
    for step, (images, labels) in enumerate(batches):
        MessageHub.get_current_instance().update_info('iter', step)
        torch.manual_seed(1000 + step)  # the teacher's noise is identical across runs
        logs.append(model.train_step(make_data(images, labels), optim))
    return logs


def miou(pred, gt, num_classes=4):
    ious = [((pred == c) & (gt == c)).sum() / ((pred == c) | (gt == c)).sum()
            for c in range(num_classes) if ((pred == c) | (gt == c)).any()]
    return float(torch.stack(ious).mean())


@pytest.fixture(autouse=True)
def _reset_iteration():
    yield
    MessageHub.get_current_instance().update_info('iter', 0)


def test_student_beats_its_noisy_teacher_on_held_out_images():
    """The mechanism learns: 35% salt-and-pepper teacher errors average out in the student."""
    model = build_student(teacher=dict(type='NoisyColourTeacher', noise=0.35))
    batches = [synthetic_batch(4, seed) for seed in range(80)]
    train(model, batches)
    images, labels = synthetic_batch(8, seed=999)
    model.eval()
    data = model.data_preprocessor(make_data(images, labels), False)
    with torch.no_grad():
        student = model.predict(data['inputs'], data['data_samples'])
        torch.manual_seed(5)
        teacher = model.teacher_logits(data['inputs']).argmax(1)
    gt = torch.stack(labels)
    student_pred = torch.stack([s.pred_sem_seg.data[0] for s in student])
    student_miou, teacher_miou = miou(student_pred, gt), miou(teacher, gt)
    assert teacher_miou < 0.65
    assert student_miou > teacher_miou + 0.2, (student_miou, teacher_miou)


def final_weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_unseen_ground_truth_never_reaches_the_loss():
    """Unseen classes' labels replaced by random (unseen) values: bit-identical weights."""
    batches = [synthetic_batch(2, seed) for seed in range(3)]
    shuffled = []
    rng = torch.Generator().manual_seed(7)
    for images, labels in batches:
        new = []
        for label in labels:
            hidden = torch.isin(label, torch.tensor([2, 3]))
            random_unseen = torch.tensor([2, 3])[torch.randint(0, 2, label.shape, generator=rng)]
            new.append(torch.where(hidden, random_unseen, label))
        assert any(not torch.equal(a, b) for a, b in zip(new, labels))
        shuffled.append((images, new))
    def trained_weights(data):
        model = build_student(unseen_classes=['blue', 3])
        train(model, data)
        return final_weights(model)

    reference, again = trained_weights(batches), trained_weights(shuffled)
    for key in reference:
        assert torch.equal(reference[key], again[key]), key
    # ... while a change in a seen class's ground truth does change the weights
    other = trained_weights([(images, [torch.where(label == 0, 1, label) for label in labels])
                             for images, labels in batches])
    assert any(not torch.equal(reference[k], other[k]) for k in reference)


def test_zero_shot_labels_keep_seen_ground_truth_and_fill_unseen_from_teacher():
    model = build_student(unseen_classes=['dark', 'blue'])
    images, labels = synthetic_batch(2, seed=3)
    labels[0][:4, :4] = 255  # ignored pixels stay ignored
    data = model.data_preprocessor(make_data(images, labels), True)
    inputs, samples = data['inputs'], data['data_samples']
    pseudo = model.pseudo_ground_truth(inputs, None, samples)[:, 0]
    gt = torch.stack(labels)
    teacher = model.teacher_logits(inputs)
    unseen_pixels = torch.isin(gt, torch.tensor([2, 3]))
    assert torch.equal(pseudo[~unseen_pixels], gt[~unseen_pixels])
    restricted = torch.tensor([2, 3])[teacher[:, [2, 3]].argmax(1)]
    assert torch.equal(pseudo[unseen_pixels], restricted[unseen_pixels])
    assert (pseudo[0, :4, :4] == 255).all()


def test_adapted_deeplabv2_baseline_leaves_unseen_pixels_unlabelled():
    """Table 3's "Adapted DeepLabv2": seen ground truth only, unseen pixels ignored, no teacher."""
    model = build_student(unseen_classes=['dark', 'blue'], unseen_pseudo_labels=False)
    images, labels = synthetic_batch(2, seed=3)
    data = model.data_preprocessor(make_data(images, labels), True)
    model.teacher_logits = None  # never consulted
    pseudo = model.pseudo_ground_truth(data['inputs'], None, data['data_samples'])[:, 0]
    gt = torch.stack(labels)
    unseen_pixels = torch.isin(gt, torch.tensor([2, 3]))
    assert unseen_pixels.any() and (~unseen_pixels).any()
    assert (pseudo[unseen_pixels] == 255).all()
    assert torch.equal(pseudo[~unseen_pixels], gt[~unseen_pixels])


def test_annotation_free_labels_ignore_ground_truth_but_not_padding():
    model = build_student()
    images, labels = synthetic_batch(2, seed=4)
    images[1] = images[1][:, :40, :50]  # smaller image: the batch pads it to 64x64
    labels[1] = labels[1][:40, :50]
    data = model.data_preprocessor(make_data(images, [torch.randint(0, 4, l.shape) for l in labels]),
                                   True)
    pseudo = model.pseudo_ground_truth(data['inputs'], None, data['data_samples'])[:, 0]
    expected = model.teacher_logits(data['inputs']).argmax(1)
    assert torch.equal(pseudo[0], expected[0])
    assert torch.equal(pseudo[1, :40, :50], expected[1, :40, :50])
    assert (pseudo[1, 40:] == 255).all() and (pseudo[1, :, 50:] == 255).all()


def test_self_training_switches_at_the_configured_iteration(caplog):
    model = build_student(self_training_start=2, unseen_classes=['blue', 'dark'],
                          teacher=dict(type='NoisyColourTeacher', noise=0.0))
    batches = [synthetic_batch(2, seed) for seed in range(4)]
    logs = train(model, batches)
    assert [float(log['pseudo_from_student']) for log in logs] == [0.0, 0.0, 1.0, 1.0]
    # after the switch the labels of unlabelled pixels are the student's own predictions
    images, labels = batches[0]
    model.eval()
    data = model.data_preprocessor(make_data(images, labels), True)
    inputs, samples = data['inputs'], data['data_samples']
    with torch.no_grad():
        student_logits = model.decode_head(model.extract_feat(inputs))
    MessageHub.get_current_instance().update_info('iter', 5)
    pseudo = model.pseudo_ground_truth(inputs, student_logits, samples)[:, 0]
    up = resize(student_logits, size=inputs.shape[-2:], mode='bilinear', align_corners=False)
    expected = torch.tensor([2, 3])[up[:, [2, 3]].argmax(1)]
    hidden = torch.isin(torch.stack(labels), torch.tensor([2, 3]))
    assert torch.equal(pseudo[hidden], expected[hidden])
    MessageHub.get_current_instance().update_info('iter', 1)
    teacher_labels = model.pseudo_ground_truth(inputs, student_logits, samples)[:, 0]
    assert torch.equal(teacher_labels[hidden], torch.stack(labels)[hidden])  # clean teacher


def test_teacher_is_frozen_and_left_out_of_checkpoints():
    teacher = dict(type='MaskClipSegmentor', clip=dict(model_name=TINY_VIT, pretrained=None),
                   backbone=dict(type='MaskClipViT'),
                   decode_head=dict(type='MaskClipHead', templates='single'))
    model = build_student(teacher=teacher)
    assert model.teacher.decode_head.class_names == model.class_names
    model.train()
    assert not model.teacher.training and model.backbone.training
    assert all(not p.requires_grad for p in model.teacher.parameters())
    assert all(not p.requires_grad for p in model.decode_head.conv_seg.parameters())
    state = model.state_dict()
    assert state and not any(k.startswith('teacher.') for k in state)
    assert not any('text_embeddings' in k for k in state)  # open vocabulary
    model.load_state_dict(state, strict=True)
    logs = train(model, [synthetic_batch(2, 0)])
    assert torch.isfinite(logs[0]['loss'])
    # the pseudo labels are the MaskCLIP teacher's argmax at the input size
    images, labels = synthetic_batch(1, 1)
    data = model.data_preprocessor(make_data(images, labels), True)
    pseudo = model.pseudo_ground_truth(data['inputs'], None, data['data_samples'])
    expected = model.teacher.encode_decode(
        data['inputs'], [dict(img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE))]).argmax(1)
    assert torch.equal(pseudo[:, 0], expected)


def test_configuration_errors():
    with pytest.raises(ValueError, match="Unseen class 'zebra' is not in the vocabulary"):
        build_student(unseen_classes=['zebra'])
    with pytest.raises(ValueError, match='channels=16 must equal the CLIP embedding size 32'):
        build_student(decode_head=dict(type='DeepLabV2Head', in_channels=32, channels=16))
    with pytest.raises(ValueError, match='teacher predicts 3 classes, the student 4'):
        build_student(teacher=dict(type='NoisyColourTeacher', num_classes=3))


def test_learnable_background_embedding_is_the_only_trained_text_weight():
    from maskclip.models import TextClassifier
    clip = dict(model_name=TINY_VIT, pretrained=None)
    classifier = TextClassifier(['background, sky, wall', 'cat', 'dog'], clip, templates='single',
                                normalize_features=False, learnable_background=True)
    assert [n for n, p in classifier.named_parameters()] == ['background_embeddings']
    assert classifier.background_embeddings.shape == (3, 32)  # one per background synonym
    frozen = classifier.text_embeddings.clone()
    torch.testing.assert_close(classifier.embedding_matrix(), frozen)  # initialised from the text
    feats = torch.randn(2, 32, 4, 4)
    optim = torch.optim.SGD(classifier.parameters(), lr=1.0)
    classifier(feats)[:, 0].sum().backward()
    optim.step()
    weight = classifier.embedding_matrix()
    assert not torch.allclose(weight[:3], frozen[:3])   # background rows learned
    assert torch.equal(weight[3:], frozen[3:])          # class rows stay the text embeddings
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(5))
    with pytest.raises(ValueError, match='needs a class named "background"'):
        TextClassifier(['cat', 'dog'], clip, templates='single', learnable_background=True)


def test_vocabulary_check_hook_sees_the_student_classes():
    from types import SimpleNamespace

    from maskclip.engine import ClassVocabularyCheckHook
    model = build_student()
    dataset = SimpleNamespace(metainfo=dict(classes=('a', 'b', 'c')))
    runner = SimpleNamespace(model=model, val_loop=SimpleNamespace(
        dataloader=SimpleNamespace(dataset=dataset)))
    with pytest.raises(ValueError, match='The model predicts 4 classes but SimpleNamespace has 3'):
        ClassVocabularyCheckHook().before_val(runner)
    dataset.metainfo['classes'] = ('a', 'b', 'c', 'd')
    ClassVocabularyCheckHook().before_val(runner)


def test_exported_teacher_labels_are_the_training_labels():
    """teacher_predict (what tools/export_pseudo_labels.py writes) = the argmax of the training
    teacher logits at the original size; at the batch's own size, the training labels."""
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'maskclip_plus',
        'maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')).model
    cfg.teacher.clip.update(model_name=TINY_VIT, pretrained=None)
    cfg.text_classifier.templates = cfg.teacher.decode_head.templates = 'single'
    cfg.decode_head.update(channels=32, in_channels=512)
    cfg.backbone.update(init_cfg=None, depth=18)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg).eval()
    inputs = torch.randn(2, 3, 48, 64)
    same = dict(img_shape=(48, 64), ori_shape=(48, 64), pad_shape=(48, 64),
                padding_size=[0, 0, 0, 0])
    other = dict(same, ori_shape=(30, 41))
    samples = [SegDataSample(metainfo=same), SegDataSample(metainfo=other)]
    for sample in samples:
        sample.set_data(dict(gt_sem_seg=PixelData(data=torch.zeros(1, 48, 64).long())))
    exported = model.teacher_predict(inputs, samples)
    logits = model.teacher_logits(inputs)
    training = model.pseudo_ground_truth(inputs, None, samples)
    assert exported[0].pred_sem_seg.data.equal(training[0])
    expected = resize(logits[1:], size=(30, 41), mode='bilinear', align_corners=False).argmax(1)
    assert exported[1].pred_sem_seg.data.equal(expected)
