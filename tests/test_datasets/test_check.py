"""maskclip.datasets.check (tools/check_dataset.py) on tiny generated datasets: a complete one
passes, defects are named."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from maskclip.datasets.check import check_dataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONTEXT_59 = osp.join(ROOT, 'configs', '_base_', 'datasets', 'pascal_context_59.py')
CITYSCAPES = osp.join(ROOT, 'configs', '_base_', 'datasets', 'cityscapes.py')


def save(path, array):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


def blocks(pattern):
    """``pattern`` with each value an 8x8 block: 2x3 values -> a 16x24 label (the smallest
    images the check accepts are 16 pixels a side)."""
    return np.kron(np.asarray(pattern), np.ones((8, 8), np.int64))


@pytest.fixture
def context(tmp_path):
    """A PASCAL Context (59) data root: 3 train and 2 val images with labels 0..59."""
    root = tmp_path / 'VOC2010'
    splits = {'train': ['t1', 't2', 't3'], 'val': ['v1', 'v2']}
    for split, ids in splits.items():
        for image_id in ids:
            save(root / 'JPEGImages' / f'{image_id}.jpg', np.zeros((16, 24, 3)))
            save(root / 'SegmentationClassContext' / f'{image_id}.png',
                 blocks([[0, 1, 59], [5, 0, 0]]))
        (root / 'ImageSets' / 'SegmentationContext').mkdir(parents=True, exist_ok=True)
        (root / 'ImageSets' / 'SegmentationContext' / f'{split}.txt').write_text(
            ''.join(f'{i}\n' for i in ids))
    return root


def run(capsys, config, root, split='all'):
    options = {f'{name}_dataloader.dataset.data_root': str(root) for name in ('train', 'val', 'test')}
    code = check_dataset(config, split, cfg_options=options)
    return code, capsys.readouterr().out


def test_complete_dataset_passes(capsys, context):
    code, out = run(capsys, CONTEXT_59, context)
    assert code == 0, out
    assert 'train: PascalContextDataset59' in out and 'val/test: PascalContextDataset59' in out
    assert 'split file' in out and 'lists 3 images' in out and 'lists 2 images' in out
    assert 'label values of 2 checked files lie in 0..58 or 255 after reduce_zero_label' in out
    assert 'PROBLEM' not in out and 'Result: OK' in out


def test_missing_label_file_is_counted_and_named(capsys, context):
    os.remove(context / 'SegmentationClassContext' / 't2.png')
    code, out = run(capsys, CONTEXT_59, context, 'train')
    assert code == 1
    assert 'PROBLEM  1 of 3 label files are missing, e.g. ' in out and 't2.png' in out
    assert 'Result: 1 problem(s) found' in out and 'val/test:' not in out  # --split train only


def test_out_of_range_label_values_are_reported(capsys, context):
    # 60 is one past the 59 classes once reduce_zero_label shifts it; 255 stays allowed
    save(context / 'SegmentationClassContext' / 'v2.png', blocks([[60, 1, 255], [61, 0, 0]]))
    save(context / 'SegmentationClassContext' / 't1.png', np.zeros((16, 24, 3)))  # RGB label
    code, out = run(capsys, CONTEXT_59, context, 'all')
    assert code == 1
    assert 'label values out of range in 1 of 2 checked files (allowed: 0..58 or 255' in out
    assert 'v2.png has values [60, 61]' in out
    assert 't1.png has 3 channels, not one' in out


def test_missing_split_file_is_named(capsys, context):
    os.remove(context / 'ImageSets' / 'SegmentationContext' / 'val.txt')
    code, out = run(capsys, CONTEXT_59, context, 'val')
    assert code == 1
    assert 'PROBLEM  ann_file' in out and 'val.txt' in out and 'does not exist' in out
    assert 'data/README.md' in out


def test_folder_dataset_pairs_and_sizes(capsys, tmp_path):
    """Cityscapes has no split file: images are found in the folder, labels by suffix."""
    for split in ('train', 'val'):
        for name in ('aachen_000000_000019', 'aachen_000001_000019'):
            save(tmp_path / 'leftImg8bit' / split / 'aachen' / f'{name}_leftImg8bit.png',
                 np.zeros((16, 24, 3)))
            save(tmp_path / 'gtFine' / split / 'aachen' / f'{name}_gtFine_labelTrainIds.png',
                 np.full((16, 24), 18))
    code, out = run(capsys, CITYSCAPES, tmp_path)
    assert code == 0, out
    assert '2 images found in' in out and 'lie in 0..18 or 255' in out

    labels = tmp_path / 'gtFine'
    os.remove(labels / 'val' / 'aachen' / 'aachen_000001_000019_gtFine_labelTrainIds.png')
    save(labels / 'train' / 'aachen' / 'aachen_000000_000019_gtFine_labelTrainIds.png',
         np.zeros((8, 24)))  # half its image's height
    code, out = run(capsys, CITYSCAPES, tmp_path)
    assert code == 1
    assert '1 of 2 label files are missing' in out and 'aachen_000001_000019' in out
    assert 'label files do not fit their image' in out and 'is 24x8, its image 24x16' in out


def test_every_image_is_decoded_and_tiny_images_are_flagged(capsys, context):
    jpeg = (context / 'JPEGImages' / 't1.jpg').read_bytes()
    (context / 'JPEGImages' / 't1.jpg').write_bytes(jpeg[:len(jpeg) // 2])  # truncated
    save(context / 'JPEGImages' / 't3.jpg', np.zeros((1, 1, 3)))
    save(context / 'SegmentationClassContext' / 't3.png', np.zeros((1, 1)))
    code, out = run(capsys, CONTEXT_59, context, 'train')
    assert code == 1
    assert '1 of 3 images cannot be decoded' in out and 't1.jpg' in out
    assert '1 images have a side under 16 pixels' in out and 't3.jpg is 1x1' in out


def test_tool_exit_status_is_the_result(context, tmp_path):
    """tools/check_dataset.py: status 0 on complete data, 1 once a file is missing."""
    def tool(*args):
        options = [f'{name}_dataloader.dataset.data_root={context}'
                   for name in ('train', 'val', 'test')]
        return subprocess.run([sys.executable, 'tools/check_dataset.py', CONTEXT_59, *args,
                               '--cfg-options', *options], cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
    complete = tool('--split', 'val')
    assert complete.returncode == 0 and 'Result: OK' in complete.stdout, complete.stderr[-2000:]
    os.remove(context / 'JPEGImages' / 'v1.jpg')
    broken = tool('--split', 'val', '--max-labels', '0')
    assert broken.returncode == 1 and 'v1' in broken.stdout and 'Result: 1 problem' in broken.stdout
