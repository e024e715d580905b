"""PASCAL Context: the official full-set annotations -> 59-class label PNGs and split lists.

    python tools/dataset_converters/pascal_context.py data/VOCdevkit CONTEXT
        [--labels labels.txt] [--train-list F] [--val-list F] [--nproc N]

Inputs: the VOC 2010 devkit (``VOC2010/JPEGImages``, ``VOC2010/ImageSets/Main/{train,val}.txt``)
and CONTEXT, the official annotations (trainval.tar.gz from cs.stanford.edu/~roozbeh/
pascal-context, or the folder it unpacks to): ``trainval/<image id>.mat`` with ``LabelMap``
(ids of the 459-label full set) and ``labels.txt`` ("id: name" lines). Outputs (what
configs/_base_/datasets/pascal_context_59.py and _60.py read):

    VOC2010/SegmentationClassContext/<id>.png         0 = background/other, 1..59 = classes
    VOC2010/ImageSets/SegmentationContext/train.txt   4998 ids in the full set
    VOC2010/ImageSets/SegmentationContext/val.txt     5105 ids in the full set

The 59 classes are mmseg's (its converter, through the Detail API, keeps the full-set ids
below); sorted by id they are numbered 1..59 and every other id becomes 0. ``labels.txt`` is
alphabetical, so this order is the alphabetical one of mmseg's PascalContextDataset classes:
the converter reads the 59 names from ``labels.txt`` and stops if one differs from
``CONTEXT_59`` (a wrong id list would mislabel every map silently). Both class counts read the
same PNGs: PascalContextDataset (60) keeps 0 as "background"; PascalContextDataset59 sets
reduce_zero_label, so 0 -> 255 (ignored) and 1..59 -> 0..58.

The splits are VOC 2010's ``Main`` train/val (Context annotates the whole VOC 2010 trainval,
10103 images; ``ImageSets/Segmentation`` is only a 1928-image subset), kept to the ids that have
a ``.mat``; ``--train-list``/``--val-list`` give other lists.
"""
import argparse
import os.path as osp
import re
from functools import partial

from scipy.io import loadmat

from maskclip.datasets.conversion import (ConverterInputError, find_files, make_lut, parallel_map,
                     read_lines, remap, require_dir, require_file, save_label, unpacked,
                     user_errors, write_lines)

# (full-set id, name in labels.txt) of the 59 classes, in output order 1..59.
CONTEXT_59 = (
    (2, 'aeroplane'), (9, 'bag'), (18, 'bed'), (19, 'bedclothes'), (22, 'bench'),
    (23, 'bicycle'), (25, 'bird'), (31, 'boat'), (33, 'book'), (34, 'bottle'), (44, 'building'),
    (45, 'bus'), (46, 'cabinet'), (59, 'car'), (65, 'cat'), (68, 'ceiling'), (72, 'chair'),
    (80, 'cloth'), (85, 'computer'), (98, 'cow'), (104, 'cup'), (105, 'curtain'), (113, 'dog'),
    (115, 'door'), (144, 'fence'), (158, 'floor'), (159, 'flower'), (162, 'food'),
    (187, 'grass'), (189, 'ground'), (207, 'horse'), (220, 'keyboard'), (232, 'light'),
    (258, 'motorbike'), (259, 'mountain'), (260, 'mouse'), (284, 'person'), (295, 'plate'),
    (296, 'platform'), (308, 'pottedplant'), (324, 'road'), (326, 'rock'), (347, 'sheep'),
    (349, 'shelves'), (354, 'sidewalk'), (355, 'sign'), (360, 'sky'), (366, 'snow'),
    (368, 'sofa'), (397, 'table'), (415, 'track'), (416, 'train'), (420, 'tree'),
    (424, 'truck'), (427, 'tvmonitor'), (440, 'wall'), (445, 'water'), (454, 'window'),
    (458, 'wood'))
NUM_FULL_IDS = 460  # 0 (unlabelled) and the 459 labels of labels.txt
FULL_TO_59 = make_lut({full_id: index for index, (full_id, _) in enumerate(CONTEXT_59, 1)},
                      size=NUM_FULL_IDS, fill=0)
CONTEXT_FIX = ('download trainval.tar.gz (and labels.txt) from '
               'cs.stanford.edu/~roozbeh/pascal-context and pass the archive or its folder')
VOC_FIX = 'download VOCtrainval_03-May-2010.tar and unpack it into the devkit folder'


def _normalise(name: str) -> str:
    return re.sub(r'[^a-z0-9]', '', name.lower())


def read_label_names(path: str) -> dict:
    """``{full-set id: name}`` from labels.txt ("2: aeroplane" lines)."""
    names = {}
    for line in read_lines(path):
        match = re.match(r'(\d+)\s*:\s*(.+)', line)
        if match:
            names[int(match.group(1))] = match.group(2).strip()
    return names


def verify_label_names(names: dict, source: str) -> None:
    """Stop unless labels.txt names the 59 kept ids as ``CONTEXT_59`` does."""
    wrong = [f'id {i}: {names.get(i)!r} instead of {name!r}' for i, name in CONTEXT_59
             if _normalise(names.get(i, '')) != _normalise(name)]
    if wrong:
        raise ValueError(f'{source} does not name the 59 Context classes where expected: '
                         + '; '.join(wrong[:5]) + ('; ...' if len(wrong) > 5 else '')
                         + '. Is it the labels.txt of the 459-label full set?')


def convert(image_id: str, mat_dir: str, out_dir: str) -> None:
    path = osp.join(mat_dir, image_id + '.mat')
    label_map = loadmat(path)['LabelMap']
    save_label(remap(label_map, FULL_TO_59, path), osp.join(out_dir, image_id + '.png'))


def find_annotations(context_dir: str, labels: str = None) -> tuple:
    """(folder of the .mat files, labels.txt) inside the unpacked annotations."""
    mat_dir = osp.join(context_dir, 'trainval')
    if not osp.isdir(mat_dir):
        mat_dir = context_dir
    if not find_files(mat_dir, '.mat'):
        raise ConverterInputError(f'no Context .mat annotations in {mat_dir!r}.\n'
                                  f'Fix: {CONTEXT_FIX}.')
    if labels is None:
        candidates = [osp.join(d, 'labels.txt') for d in (context_dir, mat_dir)]
        labels = next((c for c in candidates if osp.isfile(c)), candidates[0])
    require_file(labels, 'Context labels.txt', CONTEXT_FIX + ', or point --labels at it')
    return mat_dir, labels


def read_splits(args, voc_dir: str) -> dict:
    main_dir = osp.join(voc_dir, 'ImageSets', 'Main')
    lists = {'train': args.train_list or osp.join(main_dir, 'train.txt'),
             'val': args.val_list or osp.join(main_dir, 'val.txt')}
    return {split: read_lines(require_file(path, f'{split} split list', VOC_FIX +
                                           f' (or give --{split}-list)'))
            for split, path in lists.items()}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='PASCAL Context -> 59-class label PNGs.')
    parser.add_argument('devkit_path', help='VOCdevkit folder (holding VOC2010/)')
    parser.add_argument('context', help='trainval.tar.gz of the Context annotations, or the '
                        'folder it unpacks to')
    parser.add_argument('--labels', help='labels.txt of the full set (default: found next to '
                        'the .mat files)')
    parser.add_argument('--train-list', help='image ids of the train split (default: '
                        'VOC2010/ImageSets/Main/train.txt)')
    parser.add_argument('--val-list', help='image ids of the val split (default: '
                        'VOC2010/ImageSets/Main/val.txt)')
    parser.add_argument('-o', '--out-dir', help='label folder (default: '
                        'DEVKIT/VOC2010/SegmentationClassContext)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors():
        voc_dir = require_dir(osp.join(args.devkit_path, 'VOC2010'), 'VOC 2010 folder', VOC_FIX)
        splits = read_splits(args, voc_dir)
        out_dir = args.out_dir or osp.join(voc_dir, 'SegmentationClassContext')
        with unpacked(args.context, 'Context annotations (archive or folder)',
                      CONTEXT_FIX) as context_dir:
            mat_dir, labels = find_annotations(context_dir, args.labels)
            verify_label_names(read_label_names(labels), labels)
            annotated = {name[:-len('.mat')] for name in find_files(mat_dir, '.mat')}
            kept = {split: sorted(set(ids) & annotated) for split, ids in splits.items()}
            todo = sorted(set(kept['train']) | set(kept['val']))
            if not todo:
                raise ConverterInputError(f'no id of the split lists has a .mat in {mat_dir!r}.'
                                          '\nFix: use the VOC 2010 devkit that the Context '
                                          'annotations belong to, or give --train/val-list.')
            parallel_map(partial(convert, mat_dir=mat_dir, out_dir=out_dir), todo, args.nproc,
                         'pascal context labels')
        for split, ids in kept.items():
            write_lines(osp.join(voc_dir, 'ImageSets', 'SegmentationContext', f'{split}.txt'),
                        ids)
            dropped = len(set(splits[split])) - len(ids)
            print(f'{split}: {len(ids)} images' +
                  (f' ({dropped} ids of the list have no Context annotation)' if dropped else ''))
    print(f'{len(todo)} label maps -> {out_dir}')
    if not osp.isdir(osp.join(voc_dir, 'JPEGImages')):
        print(f'note: {osp.join(voc_dir, "JPEGImages")} is missing; unpack the VOC 2010 images')


if __name__ == '__main__':
    main()
