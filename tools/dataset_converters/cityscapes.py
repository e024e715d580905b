"""Cityscapes: ``*_gtFine_labelIds.png`` -> ``*_gtFine_labelTrainIds.png`` and split lists.

    python tools/dataset_converters/cityscapes.py data/cityscapes [--gt-dir gtFine]
        [--splits train val] [--nproc N]

Input: the Cityscapes root with ``gtFine/<split>/<city>/*_gtFine_labelIds.png``
(gtFine_trainvaltest.zip) and ``leftImg8bit/<split>/<city>/*_leftImg8bit.png``
(leftImg8bit_trainvaltest.zip).
Output, next to the inputs (what configs/_base_/datasets/cityscapes.py reads):

    gtFine/<split>/<city>/<name>_gtFine_labelTrainIds.png   0..18 = the 19 classes, 255 = ignore
    <split>.txt                                             <city>/<name>, one per line

The id -> trainId table is the official one (``cityscapesscripts.helpers.labels``), written out
here so that cityscapesscripts is not needed. mmseg's converter draws the trainIds from the
polygon JSON files instead; the labelIds PNGs are drawn from the same polygons, so the result
is the same.
"""
import argparse
import os.path as osp

from maskclip.datasets.conversion import (ConverterInputError, find_files, make_lut, parallel_map,
                     read_label, remap, require_dir, save_label, user_errors, write_lines)

# (labelId, name, trainId) from cityscapesscripts/helpers/labels.py; 255 = ignored in training
# and evaluation. ("license plate", id -1, never appears in the labelIds PNGs.)
LABELS = (
    (0, 'unlabeled', 255), (1, 'ego vehicle', 255), (2, 'rectification border', 255),
    (3, 'out of roi', 255), (4, 'static', 255), (5, 'dynamic', 255), (6, 'ground', 255),
    (7, 'road', 0), (8, 'sidewalk', 1), (9, 'parking', 255), (10, 'rail track', 255),
    (11, 'building', 2), (12, 'wall', 3), (13, 'fence', 4), (14, 'guard rail', 255),
    (15, 'bridge', 255), (16, 'tunnel', 255), (17, 'pole', 5), (18, 'polegroup', 255),
    (19, 'traffic light', 6), (20, 'traffic sign', 7), (21, 'vegetation', 8),
    (22, 'terrain', 9), (23, 'sky', 10), (24, 'person', 11), (25, 'rider', 12), (26, 'car', 13),
    (27, 'truck', 14), (28, 'bus', 15), (29, 'caravan', 255), (30, 'trailer', 255),
    (31, 'train', 16), (32, 'motorcycle', 17), (33, 'bicycle', 18))
ID_TO_TRAINID = make_lut({label_id: train_id for label_id, _, train_id in LABELS})
IN_SUFFIX = '_gtFine_labelIds.png'
OUT_SUFFIX = '_gtFine_labelTrainIds.png'


def train_class_names() -> tuple:
    """The 19 classes in trainId order (mmseg's CityscapesDataset order)."""
    return tuple(name for _, name, train_id in sorted(LABELS, key=lambda x: x[2])
                 if train_id != 255)


def convert(label_ids_png: str) -> None:
    label = remap(read_label(label_ids_png), ID_TO_TRAINID, label_ids_png)
    save_label(label, label_ids_png[:-len(IN_SUFFIX)] + OUT_SUFFIX)


def convert_split(gt_dir: str, split: str, nproc: int) -> list:
    """Convert one split; returns its ``<city>/<name>`` entries."""
    split_dir = require_dir(osp.join(gt_dir, split), f'Cityscapes {split} annotations',
                            'unzip gtFine_trainvaltest.zip into the Cityscapes root')
    names = find_files(split_dir, IN_SUFFIX)
    if not names:
        raise ConverterInputError(f'no *{IN_SUFFIX} files under {split_dir!r}.\nFix: unzip '
                                  'gtFine_trainvaltest.zip (it holds the labelIds PNGs).')
    parallel_map(convert, [osp.join(split_dir, name) for name in names], nproc,
                 f'cityscapes {split}')
    return [name[:-len(IN_SUFFIX)] for name in names]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Cityscapes labelIds -> 19-class trainIds.')
    parser.add_argument('cityscapes_root', help='folder holding gtFine/ and leftImg8bit/')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder under the root')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        help='splits to convert (test labels are all "unlabeled")')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors():
        root = require_dir(args.cityscapes_root, 'Cityscapes root',
                           'download gtFine_trainvaltest.zip and leftImg8bit_trainvaltest.zip '
                           'from cityscapes-dataset.com and unzip them into one folder')
        gt_dir = require_dir(osp.join(root, args.gt_dir), 'Cityscapes annotation folder',
                             'unzip gtFine_trainvaltest.zip into the Cityscapes root')
        for split in args.splits:
            entries = convert_split(gt_dir, split, args.nproc)
            write_lines(osp.join(root, f'{split}.txt'), entries)
            print(f'{split}: {len(entries)} label maps -> *{OUT_SUFFIX}, list in {split}.txt')
            if not osp.isdir(osp.join(root, 'leftImg8bit', split)):
                print(f'note: {osp.join(root, "leftImg8bit", split)} is missing; unzip '
                      'leftImg8bit_trainvaltest.zip there before training or testing')


if __name__ == '__main__':
    main()
