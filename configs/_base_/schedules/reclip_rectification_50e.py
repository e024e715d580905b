# ReCLIP rectification schedule (authors' code): batch 1, SGD lr 0.01, momentum 0.9, weight decay
# 5e-4, poly (power 0.9) over 4x the trained epochs (VOC, Context: 50 of 200 epochs). Evaluation
# and a final checkpoint at the end; a checkpoint every 10 epochs for resume.
_base_ = ['../default_runtime.py']  # a training runtime: default + cuDNN autotuning below
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=200, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=50, val_interval=50)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=10, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# the recipe is for one GPU (batch 1): tools/train.py refuses another world size unless --scale-lr
recipe_gpus = 1
# fixed-size training crops through dilated convolutions: let cuDNN pick its fastest kernels
# (tools/test.py turns this off again: test images vary in size)
env_cfg = dict(cudnn_benchmark=True)
