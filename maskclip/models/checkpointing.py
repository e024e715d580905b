"""Keep frozen parts that are rebuilt from CLIP out of checkpoints."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def exclude_from_checkpoints(module: nn.Module, names: Sequence[str]) -> None:
    """Leave the attributes ``names`` of ``module`` out of its ``state_dict``.

    They are frozen and rebuilt from CLIP's weights whenever the model is built (a MaskCLIP+
    teacher, ReCLIP's copy of the text encoder), so saving them would only bloat checkpoints.
    Loading fills them from the live module, so checkpoints without them load strictly.
    """
    names = tuple(names)

    def is_excluded(key: str, prefix: str) -> bool:
        return any(key == f'{prefix}{n}' or key.startswith(f'{prefix}{n}.') for n in names)

    def drop(_module, state_dict, prefix, _local_metadata):
        for key in [k for k in state_dict if is_excluded(k, prefix)]:
            del state_dict[key]

    def fill(state_dict, prefix, *_args):
        for name in names:
            value = getattr(module, name, None)
            if isinstance(value, nn.Module):
                entries = {f'{prefix}{name}.{k}': v for k, v in value.state_dict().items()}
            elif isinstance(value, torch.Tensor):
                entries = {f'{prefix}{name}': value}
            else:
                continue
            for key, tensor in entries.items():
                state_dict.setdefault(key, tensor)

    module._register_state_dict_hook(drop)
    module._register_load_state_dict_pre_hook(fill)
