# Training-free protocol (shared settings: _base_/training-free_vit-b16.py) on
# Cityscapes val, 19 classes.
# Short side 560: SCLIP and NACLIP resize Cityscapes' 1024x2048 images to 560 (the other
# benchmarks to 336).
_base_ = [
    './_base_/training-free_vit-b16.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='cityscapes_19'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 560), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # training-free: evaluation only
