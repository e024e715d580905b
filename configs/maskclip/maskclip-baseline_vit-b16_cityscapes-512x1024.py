# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ViT-B/16, on Cityscapes val, 19 classes (short side 512).
_base_ = './maskclip_vit-b16_cityscapes-512x1024.py'
model = dict(backbone=dict(mode='baseline'))
