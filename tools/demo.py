"""Segment your own images with free-form class names; save a colour mask, an overlay and a legend.

    python tools/demo.py IMAGE [IMAGE ...] --classes "cat,dog,grass" [--background "sky,wall"]
        [--model ViT-B-16] [--clip-weights PATH | --random-weights] [--templates vild|single]
        [--key-smoothing] [--prompt-denoising] [--out-dir outputs/demo] [--opacity 0.5]
        [--device cpu]

For every image it writes ``<stem>_mask.png`` (one palette colour per class), ``<stem>_overlay.png``
(``round((1 - opacity) * image + opacity * mask)``) and ``<stem>_legend.png`` into ``--out-dir``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # run from a clone, too

from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,  # noqa: E402
                            exit_on_user_error)


def opacity_value(text):
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'must lie in [0, 1], got {text}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MaskCLIP demo: segment images into the classes you name (no training).')
    parser.add_argument('images', nargs='+', metavar='IMAGE',
                        help='image files (JPEG, PNG incl. 16-bit/grayscale/RGBA, BMP, TIFF, ...)')
    parser.add_argument('--classes', required=True,
                        help='comma-separated class names, each one class ("cat,dog,grass"); or a '
                             'class-name file: one class per line, commas separate synonyms')
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
    parser.add_argument('--opacity', type=opacity_value, default=0.5,
                        help='weight of the mask in the overlay, 0..1 (default: 0.5)')
    parser.add_argument('--device', default='cpu', help='torch device, e.g. cpu or cuda:0')
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    if args.random_weights and args.clip_weights:
        parser.error('give either --clip-weights or --random-weights, not both '
                     '(unset MASKCLIP_CLIP_WEIGHTS to use --random-weights)')
    return args


def build_vocabulary(classes, background=None):
    """The validated vocabulary and the names the legend shows (background last, if given)."""
    from maskclip.text import load_vocabulary
    from maskclip.text.class_names import read_class_file
    if osp.isfile(classes):
        entries = [list(names) for names in read_class_file(classes)]
    else:
        entries = [[name.strip()] for name in classes.split(',')]
    display = [names[0] for names in entries]
    if background is not None:
        words = [word.strip() for word in background.split(',')]
        entries.append(words)
        display.append(f'background ({", ".join(words)})')
    return load_vocabulary(entries), display


def output_stems(paths):
    """Output file stems; a repeated stem gets ``_2``, ``_3``, ... so nothing is overwritten."""
    stems, used = [], set()
    for path in paths:
        stem = base = osp.splitext(osp.basename(path))[0]
        n = 1
        while stem in used:
            n += 1
            stem = f'{base}_{n}'
        used.add(stem)
        stems.append(stem)
    return stems


def main(argv=None):
    args = parse_args(argv)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    with exit_on_user_error():
        import numpy as np
        import torch
        from PIL import Image

        import maskclip
        from maskclip import visualization as vis
        from maskclip.clip import ClipSpec, check_weights

        vocabulary, names = build_vocabulary(args.classes, args.background)
        for path in args.images:
            vis.check_image(path)
        pretrained = None if args.random_weights else (args.clip_weights or 'openai')
        check_weights(ClipSpec(args.model, pretrained))
        device = torch.device(args.device)
        if device.type == 'cuda' and not torch.cuda.is_available():
            raise ValueError(f'--device {args.device}: CUDA is not available; use --device cpu.')
        segmenter = maskclip.create_segmenter(
            args.model, pretrained=pretrained, classes=vocabulary, templates=args.templates,
            key_smoothing=args.key_smoothing, prompt_denoising=args.prompt_denoising,
            device=device)
        colours = vis.palette(len(vocabulary))
        os.makedirs(args.out_dir, exist_ok=True)
        for path, stem in zip(args.images, output_stems(args.images)):
            image = vis.load_rgb(path)
            labels = segmenter.predict(image).cpu().numpy()
            mask = vis.colorize(labels, colours)
            fractions = vis.class_fractions(labels, len(vocabulary))
            outputs = {
                'mask': mask,
                'overlay': vis.overlay(image, mask, args.opacity),
                'legend': vis.draw_legend(names, colours, fractions),
            }
            written = []
            for kind, array in outputs.items():
                out_path = osp.join(args.out_dir, f'{stem}_{kind}.png')
                Image.fromarray(array).save(out_path)
                written.append(out_path)
            present = sorted(np.flatnonzero(fractions), key=lambda i: -fractions[i])
            shares = ', '.join(f'{names[i]} {100 * fractions[i]:.1f}%' for i in present)
            print(f'{path} -> {", ".join(written)}\n    {shares}', flush=True)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
