# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ResNet-50, on PASCAL Context val, 59 classes (long side 520 as the authors).
# Published mIoU: 8.3
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): long side 520; their class names; ImageNet mean/std.
_base_ = './maskclip_r50_pascal-context-59-520x520.py'
model = dict(backbone=dict(mode='baseline'))
