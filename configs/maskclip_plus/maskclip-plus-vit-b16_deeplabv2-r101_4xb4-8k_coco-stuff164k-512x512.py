# MaskCLIP+ annotation-free: DeepLabv2-R101 trained 8k iterations on the pseudo labels
# of a frozen MaskCLIP vit-b16 teacher (no self-training), batch 16 = 4 GPUs x 4, crop 512.
# Published mIoU: 18.0 (Table 1a)
_base_ = [
    '../_base_/models/maskclip-plus_deeplabv2-r101.py', '../_base_/datasets/coco-stuff164k.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_8k.py'
]
crop_size = (512, 512)
model = dict(
    text_classifier=dict(class_names='coco_stuff_171'),
    data_preprocessor=dict(size=crop_size))
