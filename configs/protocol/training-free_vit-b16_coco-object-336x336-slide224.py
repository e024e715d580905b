# Training-free protocol (shared settings: _base_/training-free_vit-b16.py) on
# COCO-Object (COCO val2017: 80 things + background).
# Short side 336: the Resize scale (2048, 336) of SCLIP's public configs, kept by NACLIP
# (reference facts: short side 336-448).
_base_ = [
    './_base_/training-free_vit-b16.py', '../_base_/datasets/coco_object.py',
    '../_base_/default_runtime.py', '../_base_/schedules/training_free.py'
]
model = dict(
    decode_head=dict(
        class_names='coco_object',
        # background by probability threshold: where the best foreground probability,
        # softmax(logit_scale * cosine) over the classes, is below 0.1, the pixel is background
        # (SCLIP's prob_thd for its with-background sets, as we read its public configs; not in
        # the reference facts, which only say "background by a probability threshold")
        bg_threshold=0.1,
        # background prompted by stuff words (sky, wall, tree, ...), as the class files of
        # SCLIP / ClearCLIP / NACLIP, less those naming a COCO class (bed)
        bg_words='stuff',
    ))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 336), keep_ratio=True),
    # annotations are loaded after Resize: metrics are computed at the original size
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_dataloader = None  # training-free: evaluation only
