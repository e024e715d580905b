# Training-free models (MaskCLIP) only evaluate: no optimiser, no checkpoint.
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
