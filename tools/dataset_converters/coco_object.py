"""COCO-Object: COCO instance annotations -> 81-class label maps (0 = background, 1..80 things).

    python tools/dataset_converters/coco_object.py ANNOTATIONS [-o data/coco_stuff164k]
        [--splits val2017] [--nproc N]

Input: ANNOTATIONS is the folder (or annotations_trainval2017.zip) with COCO's
``instances_<split>.json`` (directly or under ``annotations/``). Needs pycocotools
(``pip install pycocotools``) to rasterise polygons and RLEs. Output (what
configs/_base_/datasets/coco_object.py reads, next to COCO-Stuff's ``*_labelTrainIds.png``):

    OUT/annotations/<split>/<image file stem>_instanceTrainIds.png   0 = background, 1..80

Every image of the json gets a map of its size (an image without instances is all background).
Class k (1..80) is the k-th of COCO's 80 thing categories in increasing category id (person = 1,
toothbrush = 80), the order of ``COCOObjectDataset`` / maskclip/text/class_names/coco_object.txt.

Overlapping instances: instances are painted from the largest to the smallest annotated
``area`` (ties in annotation order), each over what is already there, so where instances overlap
the smaller one (and, among equal areas, the later one) wins: small objects in front of large
ones stay visible. Crowd annotations (``iscrowd=1``, RLE) are painted like the others.
The images are not touched: link COCO's train2017/ and val2017/ to ``OUT/images/``.
"""
import argparse
import json
import os.path as osp
from collections import defaultdict
from functools import partial

import numpy as np

from maskclip.datasets.conversion import (ConverterInputError, parallel_map, require_file, save_label,
                     unpacked, user_errors)

#: COCO's category ids of the 80 thing classes (1..90 less the 10 ids COCO never uses)
THING_IDS = tuple(i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))
CATEGORY_TO_LABEL = {category_id: label for label, category_id in enumerate(THING_IDS, 1)}
OUT_SUFFIX = '_instanceTrainIds.png'
EXPECTED = {'train2017': 118287, 'val2017': 5000}


def import_mask_api():
    """pycocotools' mask API, imported only when a conversion runs."""
    try:
        from pycocotools import mask as mask_api
    except ImportError:
        raise ConverterInputError(
            'pycocotools is needed to rasterise COCO instance annotations.\n'
            'Fix: pip install pycocotools (in this environment: .venv/bin/python -m pip install '
            'pycocotools).') from None
    return mask_api


def instance_mask(segmentation, height: int, width: int, mask_api) -> np.ndarray:
    """(H, W) bool mask of a COCO ``segmentation``: polygons, uncompressed or compressed RLE."""
    if isinstance(segmentation, list):  # polygons
        rle = mask_api.merge(mask_api.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get('counts'), list):  # uncompressed RLE (crowds)
        rle = mask_api.frPyObjects(segmentation, height, width)
    else:  # compressed RLE
        rle = dict(segmentation)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode('ascii')
    return mask_api.decode(rle).astype(bool)


def paint_order(annotations: list) -> list:
    """Largest ``area`` first, ties in annotation order: later painted instances win overlaps."""
    return sorted(annotations, key=lambda ann: -float(ann.get('area', 0)))


def rasterise(image: dict, annotations: list, mask_api) -> np.ndarray:
    """The (H, W) uint8 label map of one image: 0 background, 1..80 thing classes."""
    height, width = int(image['height']), int(image['width'])
    label = np.zeros((height, width), np.uint8)
    for ann in paint_order(annotations):
        label[instance_mask(ann['segmentation'], height, width, mask_api)] = \
            CATEGORY_TO_LABEL[ann['category_id']]
    return label


def convert(item, out_dir: str) -> None:
    image, annotations = item
    label = rasterise(image, annotations, import_mask_api())
    stem = osp.splitext(osp.basename(image['file_name']))[0]
    save_label(label, osp.join(out_dir, stem + OUT_SUFFIX))


def find_instances_json(root: str, split: str) -> str:
    name = f'instances_{split}.json'
    for path in (osp.join(root, name), osp.join(root, 'annotations', name)):
        if osp.isfile(path):
            return path
    return require_file(osp.join(root, 'annotations', name), f'COCO {split} instance annotations',
                        'unzip annotations_trainval2017.zip (see data/README.md), or choose the '
                        'splits you have with --splits')


def load_instances(path: str) -> list:
    """``[(image, [its annotations])]`` of a COCO instances json, after checking its categories."""
    with open(path) as f:
        coco = json.load(f)
    if not isinstance(coco, dict) or not {'images', 'annotations', 'categories'} <= set(coco):
        raise ConverterInputError(f'{path!r} is not a COCO instances json (it needs images, '
                                  'annotations and categories).\nFix: pass the folder of '
                                  'instances_<split>.json from annotations_trainval2017.zip.')
    ids = sorted(category['id'] for category in coco['categories'])
    if tuple(ids) != THING_IDS:
        raise ValueError(f'{path}: expected the 80 COCO thing categories (ids {THING_IDS[0]}..'
                         f'{THING_IDS[-1]}), got {len(ids)} categories {ids[:10]}...; this '
                         'converter reads COCO 2017 instances_<split>.json files.')
    per_image = defaultdict(list)
    for ann in coco['annotations']:
        per_image[ann['image_id']].append(ann)
    return [(image, per_image[image['id']]) for image in coco['images']]


def convert_split(root: str, out_root: str, split: str, nproc: int) -> int:
    items = load_instances(find_instances_json(root, split))
    import_mask_api()  # fail before the progress bar when pycocotools is missing
    out_dir = osp.join(out_root, 'annotations', split)
    parallel_map(partial(convert, out_dir=out_dir), items, nproc, f'coco-object {split}')
    return len(items)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='COCO instance annotations -> COCO-Object label maps (81 classes).')
    parser.add_argument('annotations', help='folder (or annotations_trainval2017.zip) with '
                        'instances_<split>.json')
    parser.add_argument('-o', '--out-dir', default='data/coco_stuff164k',
                        help='dataset root to write annotations/<split>/ into')
    parser.add_argument('--splits', nargs='+', default=['val2017'])
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors():
        with unpacked(args.annotations, 'COCO annotations',
                      'download annotations_trainval2017.zip (see data/README.md)') as root:
            for split in args.splits:
                count = convert_split(root, args.out_dir, split, args.nproc)
                expected = EXPECTED.get(split)
                print(f'{split}: {count} label maps -> '
                      f'{osp.join(args.out_dir, "annotations", split)}'
                      + (f' ({expected} in the full set)' if expected else ''))
                images = osp.join(args.out_dir, 'images', split)
                if not osp.isdir(images):
                    print(f'note: {images} is missing; link the COCO {split} images there')


if __name__ == '__main__':
    main()
