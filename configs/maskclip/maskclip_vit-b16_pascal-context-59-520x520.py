# MaskCLIP, CLIP ViT-B/16, on PASCAL Context val, 59 classes (short side 520 as the authors).
# Published mIoU: 21.7
_base_ = [
    '../_base_/models/maskclip_vit-b16.py', '../_base_/datasets/pascal_context_59.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='pascal_context_59'))
train_dataloader = None  # training-free: evaluation only
