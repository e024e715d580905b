# MaskCLIP+ schedule: SGD lr 0.01, momentum 0.9, weight decay 5e-4, poly (power 0.9, min 1e-4),
# 20k iterations, evaluation at the end, a checkpoint every 1/10 (for resume). Other lengths inherit.
_base_ = ['../default_runtime.py']  # a training runtime: default + cuDNN autotuning below
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=20000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=20000, val_interval=20000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# fixed-size training crops through dilated convolutions: let cuDNN pick its fastest kernels
# (tools/test.py turns this off again: test images vary in size)
env_cfg = dict(cudnn_benchmark=True)
