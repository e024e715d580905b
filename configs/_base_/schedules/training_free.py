# Training-free models (MaskCLIP) only evaluate: no optimiser, no checkpoint.
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# under a distributed launcher there is nothing to synchronise: no DDP
model_wrapper_cfg = dict(type='InferenceOnlyWrapper')
