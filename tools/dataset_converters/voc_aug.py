"""PASCAL VOC 2012 + SBD augmentation -> ``SegmentationClassAug`` and the aug split lists.

    python tools/dataset_converters/voc_aug.py data/VOCdevkit SBD_ROOT [-o OUT_DIR] [--nproc N]

Inputs: the VOC 2012 devkit (``VOC2012/SegmentationClass/*.png`` palette PNGs and
``VOC2012/ImageSets/Segmentation/{train,val}.txt``) and SBD's ``benchmark_RELEASE`` folder
(``dataset/cls/*.mat`` with ``GTcls.Segmentation``, ``dataset/{train,val}.txt``).
Outputs, as mmseg 1.x's ``voc_aug.py`` writes them:

    VOC2012/SegmentationClassAug/<id>.png       0 = background, 1..20 = classes, 255 = boundary
    VOC2012/ImageSets/Segmentation/aug.txt      SBD train+val minus VOC train and val
    VOC2012/ImageSets/Segmentation/trainaug.txt VOC train + SBD train+val minus VOC val (10582)

``aug.txt`` is disjoint from ``train.txt``: mmseg's VOC-aug training concatenates a dataset over
``train.txt``/``SegmentationClass`` with one over ``aug.txt``/``SegmentationClassAug``.
``trainaug.txt`` alone with ``SegmentationClassAug`` gives the same 10582 images.
``SegmentationClassAug`` holds a map for every SBD image and every VOC train/val image; where
both annotate an image, VOC's official map is used (finer, with boundary 255). VOC's PNGs are
palette images: their palette indices are copied, not their colours.
"""
import argparse
import os.path as osp
from functools import partial

import numpy as np
from scipy.io import loadmat

from maskclip.datasets.conversion import (find_files, parallel_map, read_label, read_lines,
                     require_dir, require_file, save_label, user_errors, write_lines)

TRAINAUG_LEN = 10582
SBD_FIX = ('download SBD (benchmark.tgz, see data/README.md), unpack it and pass its '
           'benchmark_RELEASE folder')
VOC_FIX = 'download VOCtrainval_11-May-2012.tar and unpack it into the devkit folder'


def check_voc_values(label: np.ndarray, source: str) -> np.ndarray:
    bad = np.setdiff1d(np.unique(label), np.r_[0:21, 255])
    if bad.size:
        raise ValueError(f'{source}: values {bad.tolist()[:10]} are not VOC class indices '
                         '(0..20, 255); is it a colour (RGB) PNG rather than the palette one?')
    return label


def read_sbd_mat(path: str) -> np.ndarray:
    """SBD's class map: ``GTcls.Segmentation`` of a ``dataset/cls/<id>.mat``."""
    return loadmat(path)['GTcls'][0]['Segmentation'][0].astype(np.uint8)


def convert(job: tuple, out_dir: str) -> None:
    image_id, source = job
    label = read_sbd_mat(source) if source.endswith('.mat') else read_label(source)
    save_label(check_voc_values(label, source), osp.join(out_dir, image_id + '.png'))


def label_sources(voc_dir: str, sbd_cls_dir: str, voc_ids: list) -> dict:
    """``{image id: source file}``: SBD .mat files, overridden by VOC's own PNGs."""
    sources = {name[:-len('.mat')]: osp.join(sbd_cls_dir, name)
               for name in find_files(sbd_cls_dir, '.mat')}
    for image_id in voc_ids:
        sources[image_id] = require_file(
            osp.join(voc_dir, 'SegmentationClass', image_id + '.png'),
            f'VOC label of {image_id}', VOC_FIX)
    return sources


def split_lists(voc_train: list, voc_val: list, sbd_all: list) -> tuple:
    """(aug, trainaug) as in mmseg: aug excludes VOC train and val, trainaug only VOC val."""
    val, train = set(voc_val), set(voc_train)
    trainaug = sorted(set(voc_train + sbd_all) - val)
    aug = sorted(set(sbd_all) - train - val)
    return aug, trainaug


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='VOC 2012 + SBD -> SegmentationClassAug.')
    parser.add_argument('devkit_path', help='VOCdevkit folder (holding VOC2012/)')
    parser.add_argument('aug_path', help="SBD's benchmark_RELEASE folder (holding dataset/)")
    parser.add_argument('-o', '--out-dir', help='label folder (default: '
                        'DEVKIT/VOC2012/SegmentationClassAug)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors():
        voc_dir = require_dir(osp.join(args.devkit_path, 'VOC2012'), 'VOC 2012 folder', VOC_FIX)
        split_dir = osp.join(voc_dir, 'ImageSets', 'Segmentation')
        voc_train, voc_val = (read_lines(require_file(osp.join(split_dir, f'{s}.txt'),
                                                      f'VOC {s} split', VOC_FIX))
                              for s in ('train', 'val'))
        sbd_dir = require_dir(osp.join(args.aug_path, 'dataset'), 'SBD dataset folder', SBD_FIX)
        sbd_cls = require_dir(osp.join(sbd_dir, 'cls'), 'SBD class maps (dataset/cls)', SBD_FIX)
        sbd_all = [i for s in ('train', 'val') for i in read_lines(
            require_file(osp.join(sbd_dir, f'{s}.txt'), f'SBD {s} split', SBD_FIX))]

        out_dir = args.out_dir or osp.join(voc_dir, 'SegmentationClassAug')
        sources = label_sources(voc_dir, sbd_cls, voc_train + voc_val)
        aug, trainaug = split_lists(voc_train, voc_val, sbd_all)
        unlabelled = [i for i in trainaug if i not in sources]
        if unlabelled:
            raise ValueError(f'{len(unlabelled)} images of the aug split have neither an SBD '
                             f'.mat nor a VOC PNG, e.g. {unlabelled[:3]}')
        parallel_map(partial(convert, out_dir=out_dir), sorted(sources.items()), args.nproc,
                     'voc aug labels')
        write_lines(osp.join(split_dir, 'aug.txt'), aug)
        write_lines(osp.join(split_dir, 'trainaug.txt'), trainaug)
    print(f'{len(sources)} label maps -> {out_dir}')
    print(f'aug.txt: {len(aug)} images; trainaug.txt: {len(trainaug)} images '
          f'({TRAINAUG_LEN} with the full VOC 2012 + SBD)')


if __name__ == '__main__':
    main()
