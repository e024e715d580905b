# MaskCLIP, CLIP ResNet-50, on the synthetic sample scenes shipped in data/ (short side 448).
_base_ = [
    '../_base_/models/maskclip_r50.py', '../_base_/datasets/sample_scenes.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='sample_scenes'))
train_dataloader = None  # training-free: evaluation only
