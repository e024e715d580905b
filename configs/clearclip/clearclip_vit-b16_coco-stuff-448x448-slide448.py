# ClearCLIP on COCO-Stuff 164k val2017, 171 classes,
# with the settings of its released configs/cfg_coco_stuff164k.py (mc-lan/ClearCLIP@ad68a40).
_base_ = [
    '../_base_/models/clearclip_vit-b16.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(
    decode_head=dict(class_names='coco_stuff_171_clearclip'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 448), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # training-free: evaluation only
