# Cityscapes tested at img_scale=(1024, 512) with the ratio kept (2048x1024 -> 1024x512), as the
# MaskCLIP authors' configs/maskclip/maskclip_{r50,vit16}_1024x512_cityscapes.py:18-37.
_base_ = './cityscapes.py'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1024, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
