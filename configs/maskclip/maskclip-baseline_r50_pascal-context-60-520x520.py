# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ResNet-50, on PASCAL Context val, 60 classes with background (short side 520).
_base_ = './maskclip_r50_pascal-context-60-520x520.py'
model = dict(backbone=dict(mode='baseline'))
