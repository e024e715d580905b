# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59, multi-scale ensemble of short sides [224, 336, 520]
# (paper Table 8): each scale's prediction is resized to the image, softmaxed and averaged by
# mmseg's SegTTAModel. Published mIoU: 26.34
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
short_sides = [224, 336, 520]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(2048, s), keep_ratio=True) for s in short_sides],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
