# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ViT-B/16, on PASCAL Context val, 60 classes with background (long side 520).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding); long
# side 520; ImageNet mean/std.
_base_ = './maskclip_vit-b16_pascal-context-60-520x520.py'
model = dict(backbone=dict(mode='baseline'))
