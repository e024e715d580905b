# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59, multi-scale ensemble of the Table 8 input sizes
# [224, 336, 520] (paper Table 8): 224x224 and 336x336 squares and long side 520, each scale as its
# single-scale config (the authors released no multi-scale config; see docs/reproduction.md);
# each scale's prediction is resized to the image, softmaxed and averaged by mmseg's SegTTAModel.
# Published mIoU: 26.34
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding); long
# side 520; their class names; ImageNet mean/std.
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
sizes = [224, 336, 520]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(s, s), keep_ratio=s == 520) for s in sizes],
            [dict(type='LoadAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
