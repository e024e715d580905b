# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59 at short side 336 (paper Table 8, input resolution).
# Published mIoU: 23.02
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
