"""Write CLIP weights as one clean local file that every MaskCLIP tool and config can read.

    python tools/convert_clip_weights.py MODEL_NAME SOURCE OUT [--quick-gelu | --no-quick-gelu]

SOURCE is an open_clip tag (``openai``, ``laion2b_s34b_b88k``, ...; downloaded into open_clip's
cache when missing), a local open_clip state dict (.bin / .pt / .pth / .safetensors) or OpenAI's
original TorchScript .pt. The weights are loaded and checked against MODEL_NAME exactly as the
configs load them, then saved with how to rebuild them (model name, QuickGELU or GELU):

* ``OUT.pt`` / ``OUT.pth``: ``{'state_dict': ..., 'maskclip_meta': {...}}``, readable with
  ``torch.load(weights_only=True)``;
* ``OUT.safetensors``: the state dict, with the same fields in the safetensors metadata.

Use the result with ``--clip-weights OUT`` on the tools or ``model.clip.pretrained=OUT`` in a config.
Copy it to an offline machine to run there without open_clip downloads.
"""
import argparse
import os
import os.path as osp

from maskclip.clip.convert import convert_clip_weights
from maskclip.utils import exit_on_user_error


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert CLIP weights (open_clip tag, open_clip state dict or OpenAI '
                    'TorchScript .pt) into a self-describing file for --clip-weights.')
    parser.add_argument('model_name', help="open_clip model name, e.g. 'ViT-B-16' or 'RN50'")
    parser.add_argument('source', help='open_clip pretrained tag or path of a weight file')
    parser.add_argument('out', help='output file (.pt / .pth, or .safetensors)')
    parser.add_argument(
        '--quick-gelu', action=argparse.BooleanOptionalAction, default=None,
        help="QuickGELU (OpenAI's activation) on or off; default: decided from the source "
             '(open_clip tags and OpenAI TorchScript files say which). A plain state dict cannot '
             'tell: give --quick-gelu for OpenAI weights, --no-quick-gelu for others')
    return parser.parse_args(argv)


def _human_size(num_bytes: float) -> str:
    for unit in ('B', 'KiB', 'MiB'):
        if num_bytes < 1024:
            return f'{num_bytes:.1f} {unit}'
        num_bytes /= 1024
    return f'{num_bytes:.1f} GiB'


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        meta = convert_clip_weights(args.model_name, args.source, args.out, args.quick_gelu)
    size = _human_size(os.path.getsize(args.out))
    activation = 'QuickGELU' if meta['quick_gelu'] else 'GELU'
    print(f"Wrote {meta['model_name']} ({activation}) weights from {args.source} to "
          f'{osp.abspath(args.out)} ({size}).')
    print('Use them with:')
    print(f'  --clip-weights {args.out}')
    print(f'  --cfg-options model.clip.pretrained={args.out}')
    return meta


if __name__ == '__main__':
    main()
