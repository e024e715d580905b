# MaskCLIP+ (paper Sec. 3.4): DeepLabv2 (ResNet-101 v1c, dilated, output stride 8; ASPP with
# dilations 6/12/18/24 summed) trained on the pseudo labels of a frozen MaskCLIP ViT-B/16 teacher.
# The head's classifier is the frozen text embeddings of the classes (so `channels` = CLIP's
# embedding size: 512 for ViT-B/16, 1024 for RN50). The teacher labels the same preprocessed
# batch (ImageNet mean/std, as the authors' code). Set text_classifier.class_names per dataset.
# ImageNet init of the backbone: open-mmlab://resnet101_v1c (downloaded by mmengine).
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
teacher = dict(
    type='MaskClipSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    backbone=dict(type='MaskClipViT', mode='maskclip'),
    decode_head=dict(type='MaskClipHead', templates='vild', key_smoothing=False,
                     prompt_denoising=False))
model = dict(
    type='MaskClipPlusSegmentor',
    data_preprocessor=data_preprocessor,
    teacher=teacher,
    text_classifier=dict(class_names=None, templates='vild', normalize_features=False,
                         learnable_background=False),
    unseen_classes=None,
    self_training_start=None,
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
