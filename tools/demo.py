"""Segment your own images with free-form class names; save a colour mask, an overlay and a legend.

    python tools/demo.py IMAGE [IMAGE ...] --classes "cat,dog,grass" [--background "sky,wall"]
        [--model ViT-B-16] [--clip-weights PATH | --random-weights] [--templates vild|single]
        [--key-smoothing] [--prompt-denoising] [--out-dir outputs/demo] [--opacity 0.5]
        [--device cpu] [--figure] [--grid] [--config CONFIG --checkpoint CKPT] [--gt LABEL_PNG ...]

For every image it writes ``<stem>_mask.png`` (one palette colour per class), ``<stem>_overlay.png``
(``round((1 - opacity) * image + opacity * mask)``) and ``<stem>_legend.png`` into ``--out-dir``.

``--figure`` also writes ``<stem>_figure.png``, panels side by side as in the papers' qualitative
figures: image | MaskCLIP | MaskCLIP + KS + PD | the MaskCLIP+ or ReCLIP model of ``--config`` and
``--checkpoint`` | the ground truth of ``--gt``, with a legend of the classes below. ``--grid``
writes the same panels as one figure with a row per image, ``figure_grid.png``.
"""
import argparse
import os.path as osp
import sys

from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,
                            exit_on_user_error)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MaskCLIP demo: segment images into the classes you name (no training).')
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='image files (JPEG, PNG incl. 16-bit/grayscale/RGBA, BMP, TIFF, ...)')
    parser.add_argument('--classes',
                        help='comma-separated class names, each one class ("cat,dog,grass"); or a '
                             'class-name file: one class per line, commas separate synonyms. '
                             "Default with --config: the config's classes")
    parser.add_argument('--background', metavar='WORDS',
                        help='comma-separated stuff words ("sky,wall,floor,tree") that together '
                             'form ONE extra class, shown as "background (sky, wall, ...)": a '
                             "pixel's background score is the max over these words (the word "
                             '"background" itself is not used as a prompt)')
    parser.add_argument('--model', default='ViT-B-16',
                        help='open_clip model name (default: ViT-B-16)')
    parser.add_argument('--templates', default='vild', choices=['vild', 'single'],
                        help='prompt templates: the 85 ViLD templates or "a photo of a {}."')
    parser.add_argument('--key-smoothing', action='store_true', help='key smoothing (Sec. 3.3)')
    parser.add_argument('--prompt-denoising', action='store_true',
                        help='prompt denoising (Sec. 3.3)')
    parser.add_argument('--out-dir', default=osp.join('outputs', 'demo'),
                        help='where the PNGs go (default: outputs/demo)')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='weight of the mask in the overlay, 0..1 (default: 0.5)')
    parser.add_argument('--device', default='cpu', help='torch device, e.g. cpu or cuda:0')
    parser.add_argument('--max-size', type=int, default=1024, metavar='PIXELS',
                        help='segment images longer than this resized to it, labels at full '
                        'size (default 1024; 0 = native size, memory grows fast)')
    figure = parser.add_argument_group('comparison figure (as in the papers)')
    figure.add_argument('--figure', action='store_true',
                        help='also write <stem>_figure.png: image | MaskCLIP | MaskCLIP + KS + PD '
                             '[| --config model] [| ground truth], with a legend')
    figure.add_argument('--grid', action='store_true',
                        help='also write figure_grid.png: those panels, one row per image')
    figure.add_argument('--config',
                        help='a MaskCLIP+ or ReCLIP config: adds a panel of the trained model '
                             "(with --checkpoint), given the demo's classes")
    figure.add_argument('--checkpoint', help='the trained weights of --config')
    figure.add_argument('--gt', nargs='+', metavar='LABEL_PNG',
                        help='ground-truth label maps (class indices in the order of --classes, '
                             '255 = unlabelled), one per image: adds a panel')
    add_clip_weight_args(parser)
    return parser.parse_args(argv)


def main(argv=None):
    from maskclip.figures import DemoOptions, run_demo
    args = parse_args(argv)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    with exit_on_user_error():
        run_demo(DemoOptions(**vars(args)))
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
