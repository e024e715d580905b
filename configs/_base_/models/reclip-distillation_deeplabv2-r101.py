# ReCLIP distillation stage (paper Sec. 3.5): DeepLabv2 (ResNet-101 v1c, ASPP 6/12/18/24)
# whose classifier is the rectification stage's Query and Reference heads, fixed, with logit
# subtraction (Table 6). Loss = CE(pseudo labels of the rectified CLIP) + 0.5 L1(student
# features, CLIP features at image size) + 0.5 text-guided contrastive loss (Eq. 8, Table 7).
# The teacher is the rectification model; model.teacher_checkpoint is filled in by the two-stage
# config (configs/reclip/reclip_*.py) from the first stage's work dir.
_base_ = ['./reclip-rectification_vit-b16.py']
teacher = {{_base_.model}}
norm_cfg = dict(type='SyncBN', requires_grad=True)

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
model = dict(
    _delete_=True,
    type='ReCLIPDistillSegmentor',
    data_preprocessor=data_preprocessor,
    teacher=teacher,
    teacher_checkpoint=None,
    student_head='query_reference',  # Table 6: 'original' | 'query' | ... | 'query_reference_pe'
    feature_loss_weight=0.5,         # alpha (Table 7)
    text_loss_weight=0.5,            # beta (Table 7)
    normalize_features=False,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet101_v1c')),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=2048,
        in_index=0,
        channels=512,
        dilations=(6, 12, 18, 24),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# the recipe is for 4 GPUs x batch 4 (tools/dist_train.sh CONFIG 4): tools/train.py refuses
# another world size unless --scale-lr
recipe_gpus = 4
