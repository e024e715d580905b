# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ViT-B/16, on ADE20K val, 150 classes.
_base_ = './maskclip_vit-b16_ade20k-512x512.py'
model = dict(backbone=dict(mode='baseline'))
