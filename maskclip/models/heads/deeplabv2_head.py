"""DeepLabv2's decode head (mmseg 1.x ships DeepLabv3/v3+ only)."""
from __future__ import annotations

import torch
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import nn


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """ASPP of DeepLabv2 (Chen et al., TPAMI 2018): parallel 3x3 convolutions with dilations
    6, 12, 18 and 24 on the backbone's last map, whose outputs are summed.

    The sum has ``channels`` channels and goes to ``conv_seg`` (a text classifier in MaskCLIP+,
    so ``channels`` is then CLIP's embedding size).

    Args:
        dilations: one branch per dilation.
        branch_norm_act: ``False`` (default, the paper): each branch is a plain convolution with
            bias. ``True``: each branch is conv + ``norm_cfg`` + ``act_cfg`` (mmcv ``ConvModule``),
            as the MaskCLIP authors' ``ASPPHeadV2`` (``mmseg/models/decode_heads/aspp_headv2.py:
            30-40``, branches summed at L77) and ReCLIP's distillation student; ``norm_cfg`` must
            then be given.
    """

    def __init__(self, dilations=(6, 12, 18, 24), branch_norm_act: bool = False, **kwargs):
        kwargs.setdefault('dropout_ratio', 0.0)
        super().__init__(**kwargs)
        if not isinstance(branch_norm_act, bool):
            raise TypeError(f'branch_norm_act must be True or False, not {branch_norm_act!r}.')
        if branch_norm_act and self.norm_cfg is None:
            raise ValueError('branch_norm_act=True needs norm_cfg (e.g. dict(type="SyncBN")) for '
                             "the branches' normalisation.")
        self.dilations = tuple(dilations)
        self.branch_norm_act = branch_norm_act
        if branch_norm_act:
            self.aspp = nn.ModuleList(
                ConvModule(self.in_channels, self.channels, 3, padding=d, dilation=d,
                           conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
                for d in self.dilations)
            return
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.channels, 3, padding=d, dilation=d)
            for d in self.dilations)
        for conv in self.aspp:
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def _forward_feature(self, inputs) -> torch.Tensor:
        """(B, channels, h, w) summed ASPP features, before the classifier (mmseg's name)."""
        x = self._transform_inputs(inputs)
        return sum(branch(x) for branch in self.aspp)

    def forward(self, inputs) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
