"""Datasets: VOC without background, the generated sample scenes, and layout checks."""
import filecmp
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS
from PIL import Image

from maskclip.datasets import DatasetLayoutError, check_dataset_layout
from maskclip.text import load_vocabulary, primary_names

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')


def test_voc20_ignores_background_and_shifts_labels(tmp_path):
    for sub in ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']:
        (tmp_path / sub).mkdir(parents=True)
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / 'JPEGImages' / 'a.jpg')
    label = np.array([[0, 1, 20, 255, 5]] * 4, np.uint8)
    Image.fromarray(label).save(tmp_path / 'SegmentationClass' / 'a.png')
    (tmp_path / 'ImageSets/Segmentation/val.txt').write_text('a\n')
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='PascalVOC20Dataset', data_root=str(tmp_path), ann_file='ImageSets/Segmentation/val.txt',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    assert len(dataset.metainfo['classes']) == 20 and 'background' not in dataset.metainfo['classes']
    gt = dataset[0]['gt_seg_map']
    assert gt[0].tolist() == [255, 0, 19, 255, 4]


def test_sample_scenes_dataset_and_vocabulary_agree():
    init_default_scope('mmseg')
    dataset = DATASETS.build(dict(
        type='SampleScenesDataset', data_root=SAMPLE,
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    assert len(dataset) == 8
    classes = dataset.metainfo['classes']
    assert primary_names(load_vocabulary('sample_scenes')) == tuple(classes)
    with open(osp.join(SAMPLE, 'classes.txt')) as f:
        assert load_vocabulary(osp.join(SAMPLE, 'classes.txt')) == load_vocabulary('sample_scenes')
        assert f.read().count('\n') == len(classes)
    seen = set()
    for item in dataset:
        assert item['gt_seg_map'].shape == item['img'].shape[:2]
        seen |= set(np.unique(item['gt_seg_map']).tolist())
    assert seen == set(range(len(classes)))  # every class appears somewhere, no stray values


def jpeg_content_matches(a: np.ndarray, b: np.ndarray) -> bool:
    """Two decodings of one scene, each JPEG-encoded at quality 95, perhaps by different
    encoders: per-pixel differences stay small on average and at the 99th percentile."""
    if a.shape != b.shape:
        return False
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return bool(diff.mean() < 1.5 and np.percentile(diff, 99) <= 12)


def test_sample_data_is_regenerated_by_our_generator(tmp_path):
    """The shipped sample data is what our generator writes (no third-party images).

    Compared as decoded content, not encoder bytes: labels exactly, JPEG pixels within what
    re-encoding at quality 95 may change (a new Pillow / libjpeg release encodes differently).
    """
    out = tmp_path / 'scenes'
    subprocess.run([sys.executable, '.dev_scripts/generate_sample_data.py', '--out', str(out)],
                   cwd=ROOT, check=True, capture_output=True)
    for sub in ['img_dir/val', 'ann_dir/val']:
        names = sorted(os.listdir(osp.join(SAMPLE, sub)))
        assert names == sorted(os.listdir(out / sub))
        for name in names:
            shipped = np.asarray(Image.open(osp.join(SAMPLE, sub, name)))
            regenerated = np.asarray(Image.open(out / sub / name))
            if name.endswith('.png'):
                np.testing.assert_array_equal(shipped, regenerated, err_msg=name)
            else:
                assert jpeg_content_matches(shipped, regenerated), name
    assert filecmp.cmp(osp.join(SAMPLE, 'classes.txt'), out / 'classes.txt', shallow=False)


def test_jpeg_tolerance_accepts_reencoding_and_rejects_a_changed_scene(tmp_path):
    image = np.asarray(Image.open(osp.join(SAMPLE, 'img_dir/val/scene_000.jpg')))
    Image.fromarray(image).save(tmp_path / 'again.jpg', quality=95, subsampling=2)
    reencoded = np.asarray(Image.open(tmp_path / 'again.jpg'))
    assert jpeg_content_matches(image, reencoded)
    changed = image.copy()
    h, w = image.shape[:2]
    changed[h // 4:h // 4 + h // 6, w // 4:w // 4 + w // 6] = 255 - changed[h // 4, w // 4]
    assert not jpeg_content_matches(image, changed)
    assert not jpeg_content_matches(image, image[1:])


def test_layout_check_names_every_missing_path(tmp_path):
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    cfg = dict(type='X', data_root=str(tmp_path), ann_file='split.txt',
               data_prefix=dict(img_path='img', seg_map_path='ann'))
    with pytest.raises(DatasetLayoutError) as error:
        check_dataset_layout(dict(type='RepeatDataset', times=2, dataset=cfg))
    message = str(error.value)
    assert "img_path" in message and 'holds no files' in message
    assert 'split.txt' in message and 'data/README.md' in message
    (tmp_path / 'img' / 'a.jpg').write_bytes(b'x')
    (tmp_path / 'ann' / 'a.png').write_bytes(b'x')
    (tmp_path / 'split.txt').write_text('a\n')
    check_dataset_layout(cfg)  # complete: no error
    with pytest.raises(DatasetLayoutError, match='does not exist'):
        check_dataset_layout(dict(cfg, data_root=str(tmp_path / 'nowhere')))
