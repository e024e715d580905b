# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ResNet-50, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 4.6
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their class names; ImageNet mean/std.
_base_ = './maskclip_r50_coco-stuff164k-512x512.py'
model = dict(backbone=dict(mode='baseline'))
