# The ReCLIP authors' schedule (dogehhh/ReCLIP@99b64d7 tools/train.py:96-106, tools/distill.py:
# 37-45, 98-112): SGD lr 0.01, momentum 0.9, weight decay 5e-4; poly (power 0.9) stepped once per
# epoch, lr = max(0.01 (1 - epoch / E) ^ 0.9, floor) (FlooredPolyLR; floor 0 for rectification,
# 1e-4 for distillation); validation after every epoch, the best mIoU kept (and handed on to the
# next stage). A leaf config sets train_cfg.max_epochs and the scheduler's `end` to E.
_base_ = ['../default_runtime.py']
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(type='FlooredPolyLR', eta_min=0.0, power=0.9, begin=0, end=100, by_epoch=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
log_processor = dict(by_epoch=True)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1,
                    save_best='mIoU', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=True)  # fixed-size crops (tools/test.py turns it off)
