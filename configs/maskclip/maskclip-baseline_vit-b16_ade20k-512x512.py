# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ViT-B/16, on ADE20K val, 150 classes.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding);
# their class names; ImageNet mean/std.
_base_ = './maskclip_vit-b16_ade20k-512x512.py'
model = dict(backbone=dict(mode='baseline'))
