# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ResNet-50, on Cityscapes val, 19 classes (tested at 1024x512 as the authors).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their class names; ImageNet mean/std.
_base_ = './maskclip_r50_cityscapes-512x1024.py'
model = dict(backbone=dict(mode='baseline'))
