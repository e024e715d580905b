# MaskCLIP, CLIP ViT-B/16, on Cityscapes val, 19 classes (short side 512).
_base_ = [
    '../_base_/models/maskclip_vit-b16.py', '../_base_/datasets/cityscapes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='cityscapes_19'))
train_dataloader = None  # training-free: evaluation only
