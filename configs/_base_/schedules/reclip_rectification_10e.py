# ReCLIP rectification on COCO-Stuff (118k training images): 10 epochs, poly over 40. Not
# published (the paper has no COCO-Stuff result): our choice, the same 1:4 ratio as VOC.
_base_ = './reclip_rectification_50e.py'
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=40, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=10, val_interval=10)
default_hooks = dict(checkpoint=dict(interval=1))
