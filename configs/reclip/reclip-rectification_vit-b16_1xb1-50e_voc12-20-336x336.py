# ReCLIP rectification stage on PASCAL VOC 2012 (20 classes): batch 1, 50 epochs, short side 336,
# 336x336 crops (random crop + flip; the crop never reads labels), class existence preset
# 'voc', test at short side 336 with prompt denoising 0.5.
# The paper's reading of the recipe; the published number (ReCLIP Table 2) comes from the authors'
# released settings: reclip-rectification_vit-b16_1xb1-200e_voc12-20-512x512.py.
_base_ = [
    '../_base_/models/reclip-rectification_vit-b16.py',
    '../_base_/datasets/pascal_voc12_20.py',
    '../_base_/schedules/reclip_rectification_50e.py',
]
custom_imports = dict(
    imports=['maskclip.datasets', 'maskclip.engine', 'maskclip.evaluation', 'maskclip.models',
             'reclip.models'],
    allow_failed_imports=False)
crop_size = (336, 336)
log_processor = dict(by_epoch=True)  # an epoch-based schedule
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(class_names='voc20', existence='voc', pd_threshold=0.5))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(4096, 336), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(4096, 336), keep_ratio=True),
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
