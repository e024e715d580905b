"""One place that turns (CLIP model name, options) into a MaskCLIP segmentor config."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import open_clip

from maskclip.clip import check_model_name
from maskclip.models.backbones.base import MODES, VIT_ONLY_MODES

#: CLIP's image normalisation on a 0-255 scale (the API and the CLIP-normalised configs)
CLIP_MEAN = [v * 255 for v in open_clip.OPENAI_DATASET_MEAN]
CLIP_STD = [v * 255 for v in open_clip.OPENAI_DATASET_STD]
#: ImageNet normalisation used by the MaskCLIP authors' configs (paper tables)
IMAGENET_MEAN = [123.675, 116.28, 103.53]
IMAGENET_STD = [58.395, 57.12, 57.375]


def encoder_type(model_name: str) -> str:
    """``'MaskClipResNet'`` for CLIP ResNets, ``'MaskClipViT'`` for ViTs."""
    cfg = open_clip.get_model_config(check_model_name(model_name))
    return 'MaskClipResNet' if isinstance(cfg['vision_cfg']['layers'], (list, tuple)) \
        else 'MaskClipViT'


def check_mode(mode: str, model_name: str) -> str:
    """``mode`` if the encoder of ``model_name`` has it, else a ValueError that says why."""
    if mode not in MODES:
        raise ValueError(f"Unknown mode '{mode}'; choose one of {MODES}.")
    if mode in VIT_ONLY_MODES and encoder_type(model_name) != 'MaskClipViT':
        raise ValueError(f"Mode '{mode}' changes a ViT's last transformer block; "
                         f"'{model_name}' is a CLIP ResNet, which supports 'maskclip' and "
                         "'baseline' only.")
    return mode


def maskclip_model_cfg(model_name: str = 'ViT-B-16',
                       pretrained: Optional[str] = 'openai',
                       classes: Union[str, Sequence] = 'voc21',
                       templates: Union[str, Sequence[str]] = 'vild',
                       key_smoothing: bool = False,
                       prompt_denoising: bool = False,
                       mode: str = 'maskclip',
                       mean: Sequence[float] = tuple(CLIP_MEAN),
                       std: Sequence[float] = tuple(CLIP_STD),
                       bgr_to_rgb: bool = False,
                       test_cfg: Optional[dict] = None,
                       naclip_std: Optional[float] = None,
                       pos_embed_resize: Optional[str] = None,
                       pamr: Optional[dict] = None,
                       precision: str = 'fp32',
                       **head_options) -> dict:
    """The ``model`` dict of a MaskCLIP config (what the config files spell out by hand).

    ``mode`` is the encoder's last-block mode (:data:`~maskclip.models.backbones.base.MODES`;
    ``'sclip'``, ``'clearclip'`` and ``'naclip'`` need a ViT); ``naclip_std`` sets NACLIP's
    Gaussian prior (``mode='naclip'`` only; default 5); ``pos_embed_resize`` the ViT's
    positional-embedding resize (``'size'`` or ``'scale_factor'``). ``pamr``, ``precision`` and
    ``test_cfg`` go to the segmentor, the rest to the head.
    """
    backbone = dict(type=encoder_type(model_name), mode=check_mode(mode, model_name))
    if naclip_std is not None:
        if mode != 'naclip':
            raise ValueError(f"naclip_std applies to mode='naclip' only, not mode='{mode}'.")
        backbone['naclip_std'] = naclip_std
    if pos_embed_resize is not None:
        if backbone['type'] != 'MaskClipViT':
            raise ValueError(f"pos_embed_resize applies to CLIP ViTs; '{model_name}' is a ResNet.")
        backbone['pos_embed_resize'] = pos_embed_resize
    return dict(
        type='MaskClipSegmentor',
        pamr=pamr,
        precision=precision,
        clip=dict(model_name=model_name, pretrained=pretrained),
        data_preprocessor=dict(type='SegDataPreProcessor', mean=list(mean), std=list(std),
                               bgr_to_rgb=bgr_to_rgb, pad_val=0, seg_pad_val=255),
        backbone=backbone,
        decode_head=dict(type='MaskClipHead', class_names=classes, templates=templates,
                         key_smoothing=key_smoothing, prompt_denoising=prompt_denoising,
                         **head_options),
        test_cfg=test_cfg or dict(mode='whole'))
