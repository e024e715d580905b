"""Converting CLIP weights (an open_clip tag, an open_clip state dict or OpenAI's TorchScript
archive) into one self-describing local file that every config and tool reads
(tools/convert_clip_weights.py is its command line)."""
import os
import os.path as osp

import open_clip
import torch

from .loader import META_KEY, ClipSpec, ClipWeightsError, check_model_name, load_clip


def uses_quick_gelu(model: torch.nn.Module) -> bool:
    """Whether a built open_clip model runs QuickGELU anywhere (its ``act_layer``)."""
    return any(isinstance(module, open_clip.transformer.QuickGELU) for module in model.modules())


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


def convert_clip_weights(model_name: str, source: str, out: str, quick_gelu=None) -> dict:
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
