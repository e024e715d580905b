# MaskCLIP, CLIP ResNet-50, on Cityscapes val, 19 classes (tested at 1024x512 as the authors).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their class names; ImageNet mean/std.
_base_ = [
    '../_base_/models/maskclip_r50.py', '../_base_/datasets/cityscapes_1024x512.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='cityscapes_19_maskclip'))
train_dataloader = None  # training-free: evaluation only
