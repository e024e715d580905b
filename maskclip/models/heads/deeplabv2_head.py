"""DeepLabv2's decode head (mmseg 1.x ships DeepLabv3/v3+ only)."""
from __future__ import annotations

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import nn


@MODELS.register_module()
class DeepLabV2Head(BaseDecodeHead):
    """ASPP of DeepLabv2 (Chen et al., TPAMI 2018): parallel 3x3 convolutions with dilations
    6, 12, 18 and 24 on the backbone's last map, whose outputs are summed.

    The sum has ``channels`` channels and goes to ``conv_seg`` (a text classifier in MaskCLIP+,
    so ``channels`` is then CLIP's embedding size).
    """

    def __init__(self, dilations=(6, 12, 18, 24), **kwargs):
        kwargs.setdefault('dropout_ratio', 0.0)
        super().__init__(**kwargs)
        self.dilations = tuple(dilations)
        self.aspp = nn.ModuleList(
            nn.Conv2d(self.in_channels, self.channels, 3, padding=d, dilation=d)
            for d in self.dilations)
        for conv in self.aspp:
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.zeros_(conv.bias)

    def _forward_feature(self, inputs) -> torch.Tensor:
        """(B, channels, h, w) summed ASPP features, before the classifier (mmseg's name)."""
        x = self._transform_inputs(inputs)
        return sum(conv(x) for conv in self.aspp)

    def forward(self, inputs) -> torch.Tensor:
        return self.cls_seg(self._forward_feature(inputs))
