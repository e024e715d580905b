# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ViT-B/16, on PASCAL Context val, 59 classes (short side 520 as the authors).
# Published mIoU: 9.0
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
model = dict(backbone=dict(mode='baseline'))
