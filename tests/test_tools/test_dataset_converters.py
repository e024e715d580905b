"""tools/dataset_converters/: each converter on tiny fake inputs in the raw format it reads.

Every test writes known raw label values, runs the converter through its command line, checks
the exact output values and split lists, and loads the result through the repo's base dataset
config. The class tables the tests write their inputs from are their own (from the datasets'
documentation and mmseg's class lists), not the converters'.
"""
import os
import os.path as osp
import subprocess
import sys
import tarfile
import zipfile

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image
from scipy.io import savemat

from ..conftest import ROOT



def convert(name, *args, env=None):
    """``python tools/dataset_converters/<name>.py ARGS``; the finished process."""
    return subprocess.run([sys.executable, f'tools/dataset_converters/{name}.py',
                           *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def converted(name, *args):
    """Run a converter that must succeed; its standard output."""
    result = convert(name, *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def write_png(path, array, palette=None):
    os.makedirs(osp.dirname(path), exist_ok=True)
    image = Image.fromarray(np.asarray(array, np.uint8), 'P' if palette else None)
    if palette:
        image.putpalette(palette)
    image.save(path)


def write_image(path, height, width):
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)


def read_png(path):
    return np.array(Image.open(path))


def dataset_from_base(config, split, data_root, **overrides):
    """The ``split`` dataset of configs/_base_/datasets/<config>, rooted at ``data_root``."""
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'datasets', config))
    dataset_cfg = cfg[f'{split}_dataloader']['dataset']
    dataset_cfg.update(data_root=str(data_root), **overrides,
                       pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    init_default_scope('mmseg')
    return DATASETS.build(dataset_cfg)


def expect_input_error(name, argv, *words):
    result = convert(name, *argv)
    assert result.returncode == 2, result.stderr[-2000:]
    for word in words:
        assert word in result.stderr, result.stderr
    assert 'Fix:' in result.stderr and 'Traceback' not in result.stderr


# ---------------------------------------------------------------------------------- Cityscapes

def test_cityscapes_label_ids_to_train_ids(tmp_path):
    from mmseg.datasets import CityscapesDataset
    classes = CityscapesDataset.METAINFO['classes']
    # label ids (cityscapesScripts' labels.py): 7 road, 26 car, 33 bicycle, 24 person, 8 sidewalk,
    # 11 building, 23 sky, 31 train; 0, 1, 34 (and 255) have no train id
    raw = np.array([[7, 26, 0, 33], [24, 1, 255, 34], [8, 11, 23, 31]])
    names = [['road', 'car', None, 'bicycle'], ['person', None, None, None],
             ['sidewalk', 'building', 'sky', 'train']]
    expected = np.array([[255 if n is None else classes.index(n) for n in row] for row in names])
    assert expected.tolist() == [[0, 13, 255, 18], [11, 255, 255, 255], [1, 2, 10, 16]]
    entries = {'train': ['aachen/aachen_000000_000019', 'bochum/bochum_000000_000313'],
               'val': ['frankfurt/frankfurt_000000_000294']}
    for split, names in entries.items():
        for name in names:
            write_png(tmp_path / 'gtFine' / split / f'{name}_gtFine_labelIds.png', raw)
            write_image(tmp_path / 'leftImg8bit' / split / f'{name}_leftImg8bit.png', 3, 4)

    converted('cityscapes', tmp_path)

    for split, names in entries.items():
        assert (tmp_path / f'{split}.txt').read_text() == ''.join(f'{n}\n' for n in names)
        for name in names:
            out = read_png(tmp_path / 'gtFine' / split / f'{name}_gtFine_labelTrainIds.png')
            assert out.dtype == np.uint8 and out.tolist() == expected.tolist()
    dataset = dataset_from_base('cityscapes.py', 'val', tmp_path)
    assert len(dataset) == 1 and dataset[0]['gt_seg_map'].tolist() == expected.tolist()

    expect_input_error('cityscapes', [tmp_path, '--splits', 'test'],
                       osp.join('gtFine', 'test'), 'gtFine_trainvaltest.zip')


# ---------------------------------------------------------------------------- COCO-Stuff 164k

def test_coco_stuff_raw_ids_to_171_train_ids(tmp_path):
    from mmseg.datasets import COCOStuffDataset
    classes = COCOStuffDataset.METAINFO['classes']
    # raw 11 and 90 are unused thing ids -> ignore; 255 stays unlabelled
    raw = np.array([[0, 12, 91, 181], [11, 255, 90, 1]])
    expected = np.array([[0, 11, 80, 170], [255, 255, 255, 1]])
    assert (classes[0], classes[11], classes[80], classes[170]) == (
        'person', 'stop sign', 'banner', 'wood')
    maps = tmp_path / 'stuffthingmaps_trainval2017'
    out = tmp_path / 'coco_stuff164k'
    for split, ids in {'train2017': ['000000000009', '000000000025'],
                       'val2017': ['000000000139']}.items():
        for image_id in ids:
            write_png(maps / split / f'{image_id}.png', raw)
            write_image(out / 'images' / split / f'{image_id}.jpg', 2, 4)

    converted('coco_stuff164k', maps, '-o', out, '--nproc', '2')

    assert sorted(os.listdir(out / 'annotations' / 'train2017')) == [
        '000000000009_labelTrainIds.png', '000000000025_labelTrainIds.png']
    label = read_png(out / 'annotations' / 'val2017' / '000000000139_labelTrainIds.png')
    assert label.tolist() == expected.tolist()
    dataset = dataset_from_base('coco-stuff164k.py', 'val', out)
    assert len(dataset) == 1 and dataset[0]['gt_seg_map'].tolist() == expected.tolist()

    # in place, as in mmseg's instructions: converted maps are not converted again
    write_png(out / 'annotations' / 'val2017' / '000000000139.png', raw)
    converted('coco_stuff164k', out / 'annotations', '-o', out, '--splits', 'val2017')
    assert sorted(os.listdir(out / 'annotations' / 'val2017')) == [
        '000000000139.png', '000000000139_labelTrainIds.png']

    expect_input_error('coco_stuff164k', [tmp_path / 'nowhere'], 'nowhere',
                       'stuffthingmaps_trainval2017.zip')


# ------------------------------------------------------------------------------------ ADE20K

def make_ade_zip(path, annotations):
    """ADEChallengeData2016.zip: ``{split: [(image name, label or None = no annotation)]}``."""
    with zipfile.ZipFile(path, 'w') as zf:
        for split, items in annotations.items():
            for name, label in items:
                for folder, suffix, array in (('images', '.jpg', np.full((2, 3, 3), 90)),
                                              ('annotations', '.png', label)):
                    if array is None:
                        continue
                    fake = path.parent / f'tmp{suffix}'
                    Image.fromarray(np.asarray(array, np.uint8)).save(fake)
                    zf.write(fake, f'ADEChallengeData2016/{folder}/{split}/{name}{suffix}')
                    os.remove(fake)


def test_ade20k_zip_is_unpacked_and_verified(tmp_path):
    label = np.array([[0, 150, 1], [12, 0, 149]])
    archive = tmp_path / 'ADEChallengeData2016.zip'
    make_ade_zip(archive, {'training': [('ADE_train_00000001', label)],
                           'validation': [('ADE_val_00000001', label)]})
    converted('ade20k', archive, '-o', tmp_path / 'ade')

    root = tmp_path / 'ade' / 'ADEChallengeData2016'
    assert read_png(root / 'annotations' / 'validation' / 'ADE_val_00000001.png').tolist() == \
        label.tolist()
    dataset = dataset_from_base('ade20k.py', 'val', root)
    assert len(dataset) == 1  # reduce_zero_label: 0 = other -> 255, 1..150 -> 0..149
    assert dataset[0]['gt_seg_map'].tolist() == [[255, 149, 0], [11, 255, 148]]

    # an unpacked folder is linked into place and checked the same way
    converted('ade20k', root, '-o', tmp_path / 'linked')
    assert osp.realpath(tmp_path / 'linked' / 'ADEChallengeData2016') == osp.realpath(root)


def test_ade20k_check_names_bad_labels(tmp_path):
    archive = tmp_path / 'ADEChallengeData2016.zip'
    make_ade_zip(archive, {'training': [('ADE_train_00000001', [[0, 151]])],
                           'validation': [('ADE_val_00000001', None),
                                          ('ADE_val_00000002', [[0, 150]])]})
    result = convert('ade20k', archive, '-o', tmp_path / 'ade')
    assert result.returncode == 1
    err = result.stderr
    assert 'ADE_train_00000001.png (max 151)' in err
    assert 'validation: 1 of 2 images have no annotation, e.g. ADE_val_00000001' in err


# --------------------------------------------------------------------------- VOC 2012 + SBD

def sbd_mat(path, segmentation):
    os.makedirs(osp.dirname(path), exist_ok=True)
    savemat(path, {'GTcls': {'Segmentation': np.asarray(segmentation, np.uint8),
                             'Boundaries': np.zeros((1, 20), object),
                             'CategoriesPresent': np.array([[1]], np.uint8)}})


def test_voc_aug_merges_sbd_and_voc(tmp_path):
    voc = tmp_path / 'VOCdevkit' / 'VOC2012'
    sbd = tmp_path / 'benchmark_RELEASE' / 'dataset'
    palette = [v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)]
    voc_label = np.array([[0, 15, 255], [20, 1, 0]])   # palette indices
    sbd_label = np.array([[0, 7, 7], [12, 0, 3]])       # SBD: no boundary class
    for image_id in ['a', 'b', 'c']:
        write_png(voc / 'SegmentationClass' / f'{image_id}.png', voc_label, palette)
    for image_id in ['a', 'b', 'c', 'd', 'e']:
        write_image(voc / 'JPEGImages' / f'{image_id}.jpg', 2, 3)
    (voc / 'ImageSets' / 'Segmentation').mkdir(parents=True)
    (voc / 'ImageSets' / 'Segmentation' / 'train.txt').write_text('a\nb\n')
    (voc / 'ImageSets' / 'Segmentation' / 'val.txt').write_text('c\n')
    for image_id in ['b', 'c', 'd', 'e']:
        sbd_mat(sbd / 'cls' / f'{image_id}.mat', sbd_label)
    (sbd / 'train.txt').write_text('b\nd\n')
    (sbd / 'val.txt').write_text('c\ne\n')

    out_text = converted('voc_aug', tmp_path / 'VOCdevkit', tmp_path / 'benchmark_RELEASE')

    splits = voc / 'ImageSets' / 'Segmentation'
    assert (splits / 'aug.txt').read_text() == 'd\ne\n'
    assert (splits / 'trainaug.txt').read_text() == 'a\nb\nd\ne\n'
    out = voc / 'SegmentationClassAug'
    assert sorted(os.listdir(out)) == ['a.png', 'b.png', 'c.png', 'd.png', 'e.png']
    for image_id in ['a', 'b', 'c']:  # VOC's own map wins, palette indices copied
        assert read_png(out / f'{image_id}.png').tolist() == voc_label.tolist()
    assert read_png(out / 'd.png').tolist() == sbd_label.tolist()
    assert 'trainaug.txt: 4 images (10582 with the full VOC 2012 + SBD)' in out_text

    dataset = dataset_from_base('pascal_voc12.py', 'train', voc,
                                ann_file='ImageSets/Segmentation/aug.txt',
                                data_prefix=dict(img_path='JPEGImages',
                                                 seg_map_path='SegmentationClassAug'))
    assert len(dataset) == 2 and dataset[0]['gt_seg_map'].tolist() == sbd_label.tolist()

    os.remove(sbd / 'train.txt')
    expect_input_error('voc_aug', [tmp_path / 'VOCdevkit', tmp_path / 'benchmark_RELEASE'],
                       'SBD train split', 'train.txt')


# ------------------------------------------------------------------------------ PASCAL Context

BRIEF_59_IDS = [2, 259, 260, 415, 324, 9, 258, 144, 18, 19, 22, 23, 397, 25, 284, 158, 159, 416,
                33, 162, 420, 454, 295, 296, 427, 44, 45, 46, 308, 59, 440, 445, 31, 232, 65, 354,
                424, 68, 326, 72, 458, 34, 207, 80, 355, 85, 347, 220, 349, 360, 98, 187, 104,
                105, 366, 189, 368, 113, 115]


def context_59():
    """``[(full Context id, name)]`` of the 59 classes: the ids of the dataset's 59-class list,
    sorted, named as mmseg names the classes (the converter must agree, or refuse the input)."""
    from mmseg.datasets import PascalContextDataset, PascalContextDataset59
    names = PascalContextDataset59.METAINFO['classes']
    assert names == PascalContextDataset.METAINFO['classes'][1:]
    return list(zip(sorted(BRIEF_59_IDS), names))


def fake_context(tmp_path, wrong_name=False):
    """VOC2010 splits and the official-format annotations: trainval/*.mat + labels.txt."""
    names = {i: f'label {i}' for i in range(1, 460)}
    names.update(dict(context_59()))
    if wrong_name:
        names[2], names[9] = 'bag', 'aeroplane'
    ann = tmp_path / 'context'
    (ann / 'trainval').mkdir(parents=True)
    (ann / 'labels.txt').write_text(''.join(f'{i}: {n}\n' for i, n in names.items()))
    label_map = np.array([[2, 259, 0], [458, 431, 9], [284, 1, 397]], np.uint16)
    for image_id in ['2008_000002', '2008_000003', '2008_000007', '2008_000008']:
        savemat(ann / 'trainval' / f'{image_id}.mat', {'LabelMap': label_map})
    voc = tmp_path / 'VOCdevkit' / 'VOC2010'
    (voc / 'ImageSets' / 'Main').mkdir(parents=True)
    (voc / 'ImageSets' / 'Main' / 'train.txt').write_text('2008_000002\n2008_000003\n')
    (voc / 'ImageSets' / 'Main' / 'val.txt').write_text('2008_000007\n2008_009999\n')
    for image_id in ['2008_000002', '2008_000003', '2008_000007']:
        write_image(voc / 'JPEGImages' / f'{image_id}.jpg', 3, 3)
    return ann, voc


def test_pascal_context_from_official_tarball(tmp_path):
    ann, voc = fake_context(tmp_path)
    archive = tmp_path / 'trainval.tar.gz'
    with tarfile.open(archive, 'w:gz') as tf:
        tf.add(ann / 'trainval', 'trainval')
        tf.add(ann / 'labels.txt', 'labels.txt')

    out_text = converted('pascal_context', tmp_path / 'VOCdevkit', archive)

    # full ids 2 aeroplane, 259 mountain, 458 wood, 9 bag, 284 person, 397 table; 431 and 1 are
    # not among the 59 -> 0 (background/other)
    expected = [[1, 35, 0], [59, 0, 2], [37, 0, 50]]
    out = voc / 'SegmentationClassContext'
    assert sorted(os.listdir(out)) == ['2008_000002.png', '2008_000003.png', '2008_000007.png']
    assert read_png(out / '2008_000002.png').tolist() == expected
    splits = voc / 'ImageSets' / 'SegmentationContext'
    assert (splits / 'train.txt').read_text() == '2008_000002\n2008_000003\n'
    assert (splits / 'val.txt').read_text() == '2008_000007\n'
    assert '1 ids of the list have no Context annotation' in out_text

    context60 = dataset_from_base('pascal_context_60.py', 'val', voc)
    assert context60.metainfo['classes'][37] == 'person'
    assert len(context60) == 1 and context60[0]['gt_seg_map'].tolist() == expected
    context59 = dataset_from_base('pascal_context_59.py', 'val', voc)
    assert context59.metainfo['classes'][36] == 'person'
    assert context59[0]['gt_seg_map'].tolist() == [[0, 34, 255], [58, 255, 1], [36, 255, 49]]


def test_pascal_context_refuses_mismatched_labels_txt(tmp_path):
    ann, _ = fake_context(tmp_path, wrong_name=True)
    result = convert('pascal_context', tmp_path / 'VOCdevkit', ann)
    assert result.returncode == 2
    err = result.stderr
    assert "id 2: 'bag' instead of 'aeroplane'" in err and 'labels.txt' in err
    assert not (tmp_path / 'VOCdevkit' / 'VOC2010' / 'SegmentationClassContext').exists()

    os.remove(ann / 'labels.txt')
    expect_input_error('pascal_context', [tmp_path / 'VOCdevkit', ann], 'labels.txt', '--labels')
