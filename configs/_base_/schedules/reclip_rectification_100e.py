# ReCLIP rectification on ADE20K (authors' code): 100 epochs, poly over 600; else as 50e.
_base_ = './reclip_rectification_50e.py'
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=600, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=100, val_interval=100)
