"""Write the labels a model gives to every image of a dataset split, as palette PNGs.

    python tools/export_pseudo_labels.py CONFIG --out DIR [--checkpoint CKPT]
        [--source teacher|model] [--split train|val|test] [--limit N]
        [--clip-weights PATH | --random-weights] [--cfg-options k=v ...]

Output (mmseg layout, reusable as a dataset's annotations):

    DIR/ann_dir/<split>/<image stem>.png   mode 'P', value = class index (255 = ignore)
    DIR/classes.txt                        the model's class names, one per line

``--source teacher`` (the default for MaskCLIP+ configs, whose model has a ``teacher``) labels
with the frozen MaskCLIP teacher on the batch normalised by the student's data preprocessor,
through the code that makes MaskCLIP+'s training labels (``teacher_predict``): the pseudo
labels MaskCLIP+ trains on, at each image's original size. ``--source model`` labels with the
config's model itself (a MaskCLIP config, or a trained MaskCLIP+ student with ``--checkpoint``).

Images go through the config's ``test_pipeline`` without annotation loading (train splits may
have none), so the labels come back at each image's original size.
"""
import argparse
import sys

from mmengine.config import DictAction

from maskclip.engine.pseudo_labels import export_pseudo_labels
from maskclip.utils import RANDOM_WEIGHTS_BANNER, add_clip_weight_args, exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export the labels of a segmentor (or a MaskCLIP+ teacher) as palette PNGs.')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--checkpoint',
                        help='checkpoint to load (e.g. a trained MaskCLIP+ student)')
    parser.add_argument('--source', choices=['teacher', 'model'], default=None,
                        help="who labels: 'teacher' (default when the model has one: MaskCLIP+) "
                             "or 'model' (the config's model itself)")
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help='dataset split, from cfg.<split>_dataloader.dataset (default: train)')
    parser.add_argument('--limit', type=int, default=None, help='label only the first N images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.teacher.clip.model_name=...')
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        parser.error('--limit must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        result = export_pseudo_labels(
            args.config, args.out, checkpoint=args.checkpoint, source=args.source,
            split=args.split, limit=args.limit, cfg_options=args.cfg_options,
            clip_weights=args.clip_weights, random_weights=args.random_weights)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return result


if __name__ == '__main__':
    main()
