# ReCLIP distillation stage on PASCAL VOC 2012 (20 classes), as the authors' released code (dogehhh/ReCLIP@99b64d7,
# config/*_distill_ori_cfg.yaml, tools/distill.py; docs/reproduction.md): DeepLabv2-R50 v1c,
# batch 16 = 4 GPUs x 4, 100 epochs, poly per epoch with a 1e-4 floor, the best validation
# epoch kept; 512x512 crops (random scale 0.5-2, cat_max_ratio 0.75, flip, photometric
# distortion); whole-image test. Pixels that the ground truth ignores get no pseudo label.
# The teacher is reclip-rectification_vit-b16_1xb1-200e_voc12-20-512x512.py;
# run both stages with reclip_vit-b16_deeplabv2-r50_voc12-20.py.
# Published mIoU: 75.4 (ReCLIP Table 2)
_base_ = [
    '../_base_/models/reclip-distillation_deeplabv2-r50-authors.py',
    '../_base_/datasets/pascal_voc12_20.py',
    '../_base_/schedules/reclip_authors_epochs.py',
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
        data_preprocessor=dict(size=crop_size),
        decode_head=dict(class_names='voc20', existence='voc',
                         existence_cache='data/reclip_existence/voc12-20_train.json',
                         pd_threshold=0.5)))
train_dataloader = dict(batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True))
param_scheduler = [
    dict(type='FlooredPolyLR', eta_min=1e-4, power=0.9, begin=0, end=100, by_epoch=True)
]
train_cfg = dict(max_epochs=100, val_interval=1)
recipe_gpus = 4
