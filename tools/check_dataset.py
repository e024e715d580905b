"""Check that a config's dataset is complete and its labels are in range, before a long run.

    python tools/check_dataset.py CONFIG [--split train|val|test|all] [--max-labels N]
        [--cfg-options k=v ...]

For every dataset of the chosen dataloaders (wrappers such as ConcatDataset are looked through)
it checks, and reports in plain words:

1. the data root, image and label folders and the split (``ann_file``) file exist
   (``maskclip.datasets.layout``, the check that tools/test.py and train.py also run);
2. every image the dataset would load (the split-file entries, or the images found in the
   image folder) exists and has its label file; missing ones are counted and the first few named;
3. label values of up to N label PNGs (spread over the split) lie in 0..num_classes-1 or 255
   once read as mmseg's ``LoadAnnotations`` reads them (``reduce_zero_label``, custom-class
   ``label_map``), and each label has its image's size.

The image/label lists come from the dataset class itself (mmseg's ``load_data_list``), so the
suffixes and split-file semantics are exactly the ones training and testing will use.
Exit status: 0 if everything is in order, 1 if a problem was found.
"""
import argparse
import sys

from mmengine.config import DictAction

from maskclip.datasets.check import SPLITS, check_dataset
from maskclip.utils import exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Check a config's dataset before a run.")
    parser.add_argument('config', help='config file path')
    parser.add_argument('--split', choices=SPLITS + ('all',), default='all',
                        help='which dataloader(s) to check (default: all)')
    parser.add_argument('--max-labels', type=int, default=100, metavar='N',
                        help='label files whose values are read, spread over each split '
                        '(default 100; 0 = all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'test_dataloader.dataset.data_root=/datasets/VOC2012')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with exit_on_user_error():
        return check_dataset(args.config, args.split, args.max_labels, args.cfg_options)


if __name__ == '__main__':
    sys.exit(main())
