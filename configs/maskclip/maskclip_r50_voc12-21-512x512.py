# MaskCLIP, CLIP ResNet-50, on PASCAL VOC 2012 val, 21 classes with background.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): ImageNet mean/std.
_base_ = [
    '../_base_/models/maskclip_r50.py', '../_base_/datasets/pascal_voc12.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='voc21'))
train_dataloader = None  # training-free: evaluation only
