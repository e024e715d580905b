"""COCO-Stuff 164k: raw stuff+thing maps (ids 0..181) -> the 171-class ``*_labelTrainIds.png``.

    python tools/dataset_converters/coco_stuff164k.py MAPS_DIR [-o data/coco_stuff164k]
        [--splits train2017 val2017] [--nproc N]

Input: ``MAPS_DIR/{train2017,val2017}/*.png``, the unzipped stuffthingmaps_trainval2017.zip
(pixel = COCO category id - 1: 0..90 things, 91..181 stuff, 255 = unlabeled). MAPS_DIR may be
``OUT/annotations`` itself, as in mmseg's instructions; existing ``*_labelTrainIds.png`` are
skipped. Output (what configs/_base_/datasets/coco-stuff164k.py reads):

    OUT/annotations/<split>/<image id>_labelTrainIds.png   0..170 = the 171 classes, 255 = ignore

The 11 thing ids that COCO never uses (raw 11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90) are
dropped and the remaining 171 ids are numbered consecutively: mmseg's ``clsID_to_trID`` table
(e.g. raw 0 person -> 0, 12 stop sign -> 11, 91 banner -> 80, 181 wood -> 170), which is the
class order of mmseg's COCOStuffDataset. The images are not touched: link train2017/ and
val2017/ of the COCO 2017 images to ``OUT/images/``.
"""
import argparse
import os.path as osp
from functools import partial

from maskclip.datasets.conversion import (ConverterInputError, find_files, make_lut, parallel_map,
                     read_label, remap, require_dir, save_label, user_errors)

UNUSED_THING_IDS = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)
NUM_RAW_IDS = 182
RAW_TO_TRAIN_ID = make_lut({raw: train_id for train_id, raw in enumerate(
    i for i in range(NUM_RAW_IDS) if i not in UNUSED_THING_IDS)})
OUT_SUFFIX = '_labelTrainIds.png'
EXPECTED = {'train2017': 118287, 'val2017': 5000}


def convert(name: str, in_dir: str, out_dir: str) -> None:
    path = osp.join(in_dir, name)
    label = remap(read_label(path), RAW_TO_TRAIN_ID, path)
    save_label(label, osp.join(out_dir, osp.splitext(name)[0] + OUT_SUFFIX))


def raw_maps(split_dir: str) -> list:
    return [name for name in find_files(split_dir, '.png') if not name.endswith(OUT_SUFFIX)]


def convert_split(maps_dir: str, out_root: str, split: str, nproc: int) -> int:
    in_dir = require_dir(osp.join(maps_dir, split), f'COCO-Stuff {split} maps',
                         'unzip stuffthingmaps_trainval2017.zip into MAPS_DIR, or choose the '
                         'splits you have with --splits')
    names = raw_maps(in_dir)
    if not names:
        raise ConverterInputError(f'no raw label PNGs in {in_dir!r}.\nFix: unzip '
                                  'stuffthingmaps_trainval2017.zip there.')
    out_dir = osp.join(out_root, 'annotations', split)
    parallel_map(partial(convert, in_dir=in_dir, out_dir=out_dir), names, nproc,
                 f'coco-stuff {split}')
    return len(names)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='COCO-Stuff 164k maps -> 171-class train ids.')
    parser.add_argument('maps_dir', help='folder with train2017/ and val2017/ raw label PNGs')
    parser.add_argument('-o', '--out-dir', default='data/coco_stuff164k',
                        help='dataset root to write annotations/<split>/ into')
    parser.add_argument('--splits', nargs='+', default=['train2017', 'val2017'])
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors():
        require_dir(args.maps_dir, 'COCO-Stuff maps folder',
                    'download stuffthingmaps_trainval2017.zip (see data/README.md) and unzip it')
        for split in args.splits:
            count = convert_split(args.maps_dir, args.out_dir, split, args.nproc)
            expected = EXPECTED.get(split)
            print(f'{split}: {count} label maps -> {osp.join(args.out_dir, "annotations", split)}'
                  + (f' ({expected} in the full set)' if expected else ''))
            images = osp.join(args.out_dir, 'images', split)
            if not osp.isdir(images):
                print(f'note: {images} is missing; link the COCO {split} images there')


if __name__ == '__main__':
    main()
