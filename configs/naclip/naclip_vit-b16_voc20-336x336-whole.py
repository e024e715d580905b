# NACLIP on PASCAL VOC 2012 val, 20 object classes (background ignored),
# with the settings of its released configs/cfg_voc20.py (sinahmr/NACLIP@0cac3a6).
_base_ = [
    '../_base_/models/naclip_vit-b16.py', '../_base_/datasets/pascal_voc12_20.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(
    decode_head=dict(class_names='voc20_sclip'),
    # whole image (their slide_crop=0)
    test_cfg=dict(_delete_=True, mode='whole'))
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
