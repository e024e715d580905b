# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59 with sliding-window inference: 448x448 windows,
# stride 224, on the image resized to long side 520 (window logits are averaged where they overlap).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding); long
# side 520; their class names; ImageNet mean/std.
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
model = dict(test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)))
