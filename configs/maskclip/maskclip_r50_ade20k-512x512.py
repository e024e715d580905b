# MaskCLIP, CLIP ResNet-50, on ADE20K val, 150 classes.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their class names; ImageNet mean/std.
_base_ = [
    '../_base_/models/maskclip_r50.py', '../_base_/datasets/ade20k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='ade20k_150_maskclip'))
train_dataloader = None  # training-free: evaluation only
