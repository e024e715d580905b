# MaskCLIP, CLIP ViT-B/16, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 12.5
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding);
# their class names; ImageNet mean/std.
_base_ = [
    '../_base_/models/maskclip_vit-b16.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='coco_stuff_171_maskclip'))
train_dataloader = None  # training-free: evaluation only
