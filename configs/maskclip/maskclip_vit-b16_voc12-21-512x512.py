# MaskCLIP, CLIP ViT-B/16, on PASCAL VOC 2012 val, 21 classes with background.
_base_ = [
    '../_base_/models/maskclip_vit-b16.py', '../_base_/datasets/pascal_voc12.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='voc21'))
train_dataloader = None  # training-free: evaluation only
