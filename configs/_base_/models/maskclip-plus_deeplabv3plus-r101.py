# MaskCLIP+ with DeepLabv3+ (ResNet-101 v1c; mmseg's DepthwiseSeparableASPPHead) as the target
# network, used for PASCAL Context in the paper's zero-shot table. Everything else as
# maskclip-plus_deeplabv2-r101.py (the authors' settings: pseudo labels only where the ground
# truth is a class, loss over all pixels); the head's `channels` is CLIP's embedding size.
_base_ = './maskclip-plus_deeplabv2-r101.py'
model = dict(
    backbone=dict(out_indices=(0, 1, 2, 3)),
    decode_head=dict(
        _delete_=True,
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        norm_cfg={{_base_.norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=False)))
