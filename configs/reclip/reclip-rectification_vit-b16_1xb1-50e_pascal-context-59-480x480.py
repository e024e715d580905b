# ReCLIP rectification stage on PASCAL Context (59 classes): batch 1, 50 epochs, short side 448,
# 480x480 crops (random crop + flip; the crop never reads labels), class existence preset
# 'context', test at short side 448 with prompt denoising 0.6.
# The paper's reading of the recipe; the published number (ReCLIP Table 2) comes from the authors'
# released settings: reclip-rectification_vit-b16_1xb1-150e_pascal-context-59-480x480.py.
_base_ = [
    '../_base_/models/reclip-rectification_vit-b16.py',
    '../_base_/datasets/pascal_context_59.py',
    '../_base_/schedules/reclip_rectification_50e.py',
]
custom_imports = dict(
    imports=['maskclip.datasets', 'maskclip.engine', 'maskclip.evaluation', 'maskclip.models',
             'reclip.models'],
    allow_failed_imports=False)
crop_size = (480, 480)
log_processor = dict(by_epoch=True)  # an epoch-based schedule
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(class_names='pascal_context_59', existence='context', pd_threshold=0.6))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(4096, 448), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4096, 448), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
