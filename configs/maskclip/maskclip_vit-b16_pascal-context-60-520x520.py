# MaskCLIP, CLIP ViT-B/16, on PASCAL Context val, 60 classes with background (long side 520).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding); long
# side 520; ImageNet mean/std.
_base_ = [
    '../_base_/models/maskclip_vit-b16.py', '../_base_/datasets/pascal_context_60.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='pascal_context_60'))
train_dataloader = None  # training-free: evaluation only
