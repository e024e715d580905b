"""ADE20K (SceneParsing, 150 classes): place ADEChallengeData2016 under data/ade and verify it.

    python tools/dataset_converters/ade20k.py ADEChallengeData2016.zip [-o data/ade] [--nproc N]
    python tools/dataset_converters/ade20k.py /datasets/ADEChallengeData2016 [-o data/ade]

The release needs no label conversion: its annotations already hold 0 = other (ignored through
ADE20KDataset's reduce_zero_label) and 1..150 = the classes. The zip is unpacked into ``OUT``;
an unpacked folder is symlinked as ``OUT/ADEChallengeData2016``. Then every image is checked
to have its annotation and every annotation to hold values in 0..150 only. Result (what
configs/_base_/datasets/ade20k.py reads):

    OUT/ADEChallengeData2016/images/{training,validation}/*.jpg        20210 / 2000 images
    OUT/ADEChallengeData2016/annotations/{training,validation}/*.png   values 0..150

Exit status 1 if the check finds problems.
"""
import argparse
import os
import os.path as osp
import sys

from maskclip.datasets.conversion import (ConverterInputError, extract_archive, find_files,
                     parallel_map, read_label, require_dir, user_errors)

NAME = 'ADEChallengeData2016'
SPLITS = {'training': 20210, 'validation': 2000}
NUM_CLASSES = 150
DOWNLOAD = ('download ADEChallengeData2016.zip from the MIT Scene Parsing benchmark '
            '(see data/README.md) and pass the zip or its unpacked folder')


def place(source: str, out_dir: str) -> str:
    """Unpack the zip into ``out_dir``, or link an unpacked folder there; returns the root."""
    root = osp.join(out_dir, NAME)
    if osp.isdir(source):
        if osp.realpath(source) != osp.realpath(root):
            if osp.lexists(root):
                raise ConverterInputError(f'{root!r} exists already.\nFix: remove it or choose '
                                          'another --out-dir.')
            os.makedirs(out_dir, exist_ok=True)
            os.symlink(osp.abspath(source), root)
        return root
    if not osp.isfile(source):
        raise ConverterInputError(f'ADE20K input not found: {source!r}.\nFix: {DOWNLOAD}.')
    extract_archive(source, out_dir)
    return root


def label_range(path: str) -> tuple:
    label = read_label(path)
    return int(label.min()), int(label.max())


def check_split(root: str, split: str, nproc: int) -> list:
    """Problems (plain sentences) of one split: missing annotations, out-of-range values."""
    fix = f'{root!r} is not a complete {NAME}; {DOWNLOAD}'
    img_dir = require_dir(osp.join(root, 'images', split), f'ADE20K {split} images', fix)
    ann_dir = require_dir(osp.join(root, 'annotations', split), f'ADE20K {split} annotations', fix)
    stems = [name[:-len('.jpg')] for name in find_files(img_dir, '.jpg')]
    annotated = set(name[:-len('.png')] for name in find_files(ann_dir, '.png'))
    problems = []
    missing = [stem for stem in stems if stem not in annotated]
    if missing:
        problems.append(f'{split}: {len(missing)} of {len(stems)} images have no annotation, '
                        f'e.g. {", ".join(missing[:3])}')
    present = [osp.join(ann_dir, stem + '.png') for stem in stems if stem in annotated]
    ranges = parallel_map(label_range, present, nproc, f'checking {split} labels')
    bad = [(path, hi) for path, (_, hi) in zip(present, ranges) if hi > NUM_CLASSES]
    if bad:
        problems.append(f'{split}: {len(bad)} annotations hold values above {NUM_CLASSES}, e.g. '
                        + ', '.join(f'{osp.basename(p)} (max {hi})' for p, hi in bad[:3]))
    highest = max((hi for _, hi in ranges), default=None)
    print(f'{split}: {len(stems)} images ({SPLITS[split]} in the full set), highest label '
          f'{highest}')
    return problems


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Place and verify ADE20K (ADEChallengeData2016).')
    parser.add_argument('source', help='ADEChallengeData2016.zip or the folder it unpacks to')
    parser.add_argument('-o', '--out-dir', default='data/ade', help='where ADEChallengeData2016/ '
                        'goes (configs expect data/ade)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes for the check')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with user_errors():
        root = place(args.source, args.out_dir)
        problems = [p for split in SPLITS for p in check_split(root, split, args.nproc)]
    if problems:
        print('ADE20K check FAILED:\n' + '\n'.join(f'  - {p}' for p in problems), file=sys.stderr)
        raise SystemExit(1)
    print(f'ADE20K is ready at {root}')


if __name__ == '__main__':
    main()
