# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59 at 224x224 (paper Table 8, input resolution).
# As the authors' configs/maskclip/224x224/*: every image resized to exactly 224x224, the aspect
# ratio not kept (mmcv Resize(keep_ratio=False)); the prediction is resized back to the image.
# Published mIoU: 22.72
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding); long
# side 520; their class names; ImageNet mean/std.
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
