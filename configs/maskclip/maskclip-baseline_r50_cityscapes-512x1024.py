# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ResNet-50, on Cityscapes val, 19 classes (short side 512).
_base_ = './maskclip_r50_cityscapes-512x1024.py'
model = dict(backbone=dict(mode='baseline'))
