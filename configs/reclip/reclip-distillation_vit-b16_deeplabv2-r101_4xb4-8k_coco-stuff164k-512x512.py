# ReCLIP distillation stage on COCO-Stuff 164k (171 classes): DeepLabv2-R101 student, batch 16 = 4 GPUs x 4,
# 512x512 crops, SGD lr 0.01, poly, 8k iterations (the paper gives its iteration counts in the
# supplementary, which we do not have: MaskCLIP+'s schedule for the dataset).
# The teacher is reclip-rectification_vit-b16_1xb1-10e_coco-stuff164k-512x512.py; run both stages with reclip_vit-b16_deeplabv2-r101_coco-stuff164k.py.
# Published mIoU: none
_base_ = [
    '../_base_/models/reclip-distillation_deeplabv2-r101.py',
    '../_base_/datasets/coco-stuff164k.py',
    '../_base_/schedules/schedule_8k.py',
]
custom_imports = dict(
    imports=['maskclip.datasets', 'maskclip.engine', 'maskclip.evaluation', 'maskclip.models',
             'reclip.models'],
    allow_failed_imports=False)
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    # the teacher as in the rectification config (its checkpoint checks the class names)
    teacher=dict(
        data_preprocessor=dict(size=(512, 512)),
        decode_head=dict(class_names='coco_stuff_171', existence='coco', pd_threshold=0.5)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
