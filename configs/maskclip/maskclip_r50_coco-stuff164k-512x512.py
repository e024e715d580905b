# MaskCLIP, CLIP ResNet-50, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 10.2
_base_ = [
    '../_base_/models/maskclip_r50.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(decode_head=dict(class_names='coco_stuff_171'))
train_dataloader = None  # training-free: evaluation only
