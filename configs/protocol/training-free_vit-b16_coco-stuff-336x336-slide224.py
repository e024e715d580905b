# Training-free protocol (shared settings: _base_/training-free_vit-b16.py) on
# COCO-Stuff 164k val2017, 171 classes.
# Short side 336: the Resize scale (2048, 336) of SCLIP's public configs, kept by NACLIP
# (reference facts: short side 336-448).
_base_ = [
    './_base_/training-free_vit-b16.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='coco_stuff_171'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # training-free: evaluation only
