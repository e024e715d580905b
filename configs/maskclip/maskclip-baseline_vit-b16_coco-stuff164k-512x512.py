# MaskCLIP + Baseline of paper Table 1a: dense features from the unmodified last attention, CLIP ViT-B/16, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 4.3
_base_ = './maskclip_vit-b16_coco-stuff164k-512x512.py'
model = dict(backbone=dict(mode='baseline'))
