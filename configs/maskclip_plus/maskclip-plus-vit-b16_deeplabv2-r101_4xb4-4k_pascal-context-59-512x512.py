# MaskCLIP+ annotation-free: DeepLabv2-R101 trained 4k iterations on the pseudo labels
# of a frozen MaskCLIP vit-b16 teacher (no self-training), batch 16 = 4 GPUs x 4, crop 512.
# Published mIoU: 31.1 (Table 1a)
_base_ = [
    '../_base_/models/maskclip-plus_deeplabv2-r101.py', '../_base_/datasets/pascal_context_59.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_4k.py'
]
crop_size = (512, 512)
model = dict(
    text_classifier=dict(class_names='pascal_context_59'),
    data_preprocessor=dict(size=crop_size))
# the paper trains every dataset on 512x512 crops (mmseg's Context default is 480)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 520), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
