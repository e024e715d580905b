# Training-free models (MaskCLIP) only evaluate: no optimiser, no checkpoint.
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# under a distributed launcher there is nothing to synchronise: no DDP
model_wrapper_cfg = dict(type='InferenceOnlyWrapper')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
