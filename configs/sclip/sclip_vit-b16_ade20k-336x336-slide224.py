# SCLIP on ADE20K val, 150 classes,
# with the settings of its released configs/cfg_ade20k.py (wangf3014/SCLIP@b56bd30).
_base_ = [
    '../_base_/models/sclip_vit-b16.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(
    decode_head=dict(class_names='ade20k_150_sclip'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(batch_size=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # training-free: evaluation only
