"""Precompute ReCLIP's class existence (paper Sec. 3.4) for every image of a dataset split.

    python tools/cache_class_existence.py CONFIG --out FILE [--split train]
        [--preprocess clip|test] [--half] [--clip-weights PATH | --random-weights]
        [--batch-size N] [--cfg-options k=v ...]

CONFIG is a ReCLIP rectification config, or a distillation config (its ``model.teacher`` is
used). Each image's global CLIP embedding is compared with the Query text embeddings by the
head's rule (``logit_scale * cos`` above the threshold, ``>=`` with ``existence_inclusive``, else
the top-K; ``existence`` in the config). How the image is seen (``--preprocess``):

* ``clip`` (default, the authors' ``tools/pseudo_class.py:103-121`` at dogehhh/ReCLIP@99b64d7):
  CLIP's own preprocessing (the RGB image resized bicubically to short side 224, centre crop
  224, CLIP's mean/std) through the plain CLIP image tower (``encode_image``: CLIP's own
  activation and LayerNorm eps, whatever the config's backbone sets). ``--half`` runs it in
  float16 as they did (their model and text embeddings are float16 on the GPU).
* ``test``: the whole image through the config's test-time ``Resize`` and the config's backbone
  (its global embedding), the same view as the online existence at test size.

The JSON written (``reclip.models.existence_cache``) maps each image id (file name without
folder and extension) to its class indices, with the class names and the settings used. Use it
with ``--cfg-options model.decode_head.existence_cache=FILE`` (distillation:
``model.teacher.decode_head.existence_cache=FILE``) instead of computing existence online.
"""
import argparse
import sys

from mmengine.config import DictAction

from maskclip.utils import RANDOM_WEIGHTS_BANNER, add_clip_weight_args, exit_on_user_error
from reclip.class_existence import cache_class_existence


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Cache ReCLIP's per-image class existence (global CLIP embedding vs text).")
    parser.add_argument('config', help='ReCLIP rectification (or distillation) config')
    parser.add_argument('--out', required=True, help='JSON file to write')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='train',
                        help='dataset split, from cfg.<split>_dataloader.dataset (default: train)')
    parser.add_argument('--batch-size', type=int, default=1,
                        help='images per forward pass (consecutive images of the same size)')
    parser.add_argument('--preprocess', choices=['clip', 'test'], default='clip',
                        help="'clip': CLIP's resize + centre crop 224 through the plain CLIP "
                             "model, as the authors (default); 'test': the config's test resize "
                             'through its backbone')
    parser.add_argument('--half', action='store_true',
                        help='float16 CLIP and text embeddings (the authors; --preprocess clip)')
    parser.add_argument('--device', default=None,
                        help="'cuda' or 'cpu' (default: cuda when available)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.decode_head.existence=ade')
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error('--batch-size must be at least 1')
    if args.half and args.preprocess != 'clip':
        parser.error('--half is for --preprocess clip (the authors\' float16 CLIP)')
    return args


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        result = cache_class_existence(
            args.config, args.out, split=args.split, preprocess=args.preprocess, half=args.half,
            batch_size=args.batch_size, device=args.device, cfg_options=args.cfg_options,
            clip_weights=args.clip_weights, random_weights=args.random_weights)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return result


if __name__ == '__main__':
    main()
