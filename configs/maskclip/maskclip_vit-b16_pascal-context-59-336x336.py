# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59 at 336x336 (paper Table 8, input resolution).
# The authors released no 336 config (none in their history); like their 224x224 configs, every
# image is resized to exactly 336x336 without keeping the ratio (see docs/reproduction.md).
# Published mIoU: 23.02
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding); long
# side 520; their class names; ImageNet mean/std.
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(336, 336), keep_ratio=False),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
