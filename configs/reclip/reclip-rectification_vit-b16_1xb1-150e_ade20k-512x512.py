# ReCLIP rectification stage on ADE20K (150 classes), as the authors' released code (dogehhh/ReCLIP@99b64d7,
# config/*_train_ori_cfg.yaml, tools/train.py; docs/reproduction.md): batch 1 (their loader
# ignores TRAIN.BATCH_SIZE), 150 epochs, poly per epoch, the best validation epoch kept; random
# scale 0.5-2, 512x512 crops with cat_max_ratio 0.75, flip, photometric distortion;
# whole-image test with prompt denoising 0.5 on softmax(100 M).
# Class existence from the cache (the authors' offline tools/pseudo_class.py), made once with
#   python tools/cache_class_existence.py configs/reclip/reclip-rectification_vit-b16_1xb1-150e_ade20k-512x512.py --out data/reclip_existence/ade20k_train.json
# Published mIoU: 11.1 (ReCLIP Table 2)
_base_ = [
    '../_base_/models/reclip-rectification_vit-b16-authors.py',
    '../_base_/datasets/ade20k.py',
    '../_base_/schedules/reclip_authors_epochs.py',
]
custom_imports = dict(
    imports=['maskclip.datasets', 'maskclip.engine', 'maskclip.evaluation', 'maskclip.models',
             'reclip.models'],
    allow_failed_imports=False)
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(class_names='ade20k_150', existence='ade',
                     existence_cache='data/reclip_existence/ade20k_train.json',
                     pd_threshold=0.5))
train_dataloader = dict(batch_size=1, sampler=dict(type='DefaultSampler', shuffle=True))
param_scheduler = [
    dict(type='FlooredPolyLR', eta_min=0.0, power=0.9, begin=0, end=150, by_epoch=True)
]
train_cfg = dict(max_epochs=150, val_interval=1)
recipe_gpus = 1
