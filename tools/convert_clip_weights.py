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

import open_clip
import torch

from maskclip.clip import ClipSpec, ClipWeightsError, check_model_name, load_clip
from maskclip.clip.loader import META_KEY
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
        help="force QuickGELU (OpenAI's activation) on or off; default: decided from the source "
             '(on for OpenAI tags and TorchScript files, off for plain state dicts)')
    return parser.parse_args(argv)


def uses_quick_gelu(model: torch.nn.Module) -> bool:
    """Whether a built open_clip model runs QuickGELU anywhere (its ``act_layer``)."""
    return any(isinstance(module, open_clip.transformer.QuickGELU) for module in model.modules())


def _human_size(num_bytes: float) -> str:
    for unit in ('B', 'KiB', 'MiB'):
        if num_bytes < 1024:
            return f'{num_bytes:.1f} {unit}'
        num_bytes /= 1024
    return f'{num_bytes:.1f} GiB'


def save_weights(model: torch.nn.Module, meta: dict, out: str) -> None:
    """Write ``model``'s state dict and ``meta`` to ``out`` (atomically)."""
    state_dict = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    tmp = f'{out}.{os.getpid()}.tmp'
    try:
        if out.endswith('.safetensors'):
            from safetensors.torch import save_file
            # safetensors refuses tensors sharing memory; cloning gives each its own storage
            save_file({k: v.clone() for k, v in state_dict.items()}, tmp,
                      metadata={k: str(v) for k, v in meta.items()})
        else:
            torch.save({'state_dict': state_dict, META_KEY: meta}, tmp)
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def convert(model_name: str, source: str, out: str, quick_gelu=None) -> dict:
    """Load ``source`` as ``model_name``, save it to ``out``; return the metadata written."""
    name = check_model_name(model_name)
    if ClipSpec(name, source).is_random:
        raise ClipWeightsError(f"SOURCE '{source}' means random weights; there is nothing to "
                               'convert. Give an open_clip tag or a weight file.')
    if osp.isfile(source) and osp.exists(out) and osp.samefile(source, out):
        raise ClipWeightsError(f'OUT {out} is the SOURCE file; write to another path.')
    model = load_clip(name, source, quick_gelu=quick_gelu)
    meta = {'model_name': name, 'quick_gelu': uses_quick_gelu(model), 'source': str(source),
            'open_clip': open_clip.__version__}
    save_weights(model, meta, out)
    return meta


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        meta = convert(args.model_name, args.source, args.out, args.quick_gelu)
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
