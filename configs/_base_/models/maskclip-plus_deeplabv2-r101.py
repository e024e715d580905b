# MaskCLIP+ (paper Sec. 3.4): DeepLabv2 (ResNet-101 v1c, dilated, output stride 8; ASPP with
# dilations 6/12/18/24 summed) trained on the pseudo labels of a frozen MaskCLIP ViT-B/16 teacher.
# The head's classifier is the frozen text embeddings of the classes (so `channels` = CLIP's
# embedding size: 512 for ViT-B/16, 1024 for RN50). The teacher labels the same preprocessed
# batch (ImageNet mean/std, as the authors' code). Set text_classifier.class_names per dataset.
# ImageNet init of the backbone: open-mmlab://resnet101_v1c (downloaded by mmengine).
# As the authors' released code (chongzhou96/MaskCLIP@245d31f; docs/reproduction.md):
# * annotation-free pseudo labels only where the ground truth is a class: its 255 pixels (VOC20 /
#   Context59 background, VOC boundaries, unlabelled) stay ignored (keep_gt_ignore=True, which
#   READS the ground truth's ignore mask; maskclip_plus_head.py:166-208);
# * the loss averaged over all pixels, ignored ones included (mmseg 0.20 CE: avg_non_ignore=False);
# * ASPP branches conv + SyncBN + ReLU, summed (aspp_headv2.py:30-40: branch_norm_act=True).
norm_cfg = dict(type='SyncBN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))
# The teacher is MaskCLIP as the authors' code ran it (see configs/_base_/models/maskclip_vit-b16.py
# and docs/reproduction.md): exact GELU, LayerNorm eps 1e-6, corner padding; KS / PD, when a
# config turns them on, with the authors' keys, token-axis normalisation and thresholds 1.0 / 0.5.
teacher = dict(
    type='MaskClipSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    backbone=dict(type='MaskClipViT', mode='maskclip', mlp_act='gelu', ln_eps=1e-6,
                  patch_padding='corner', keys_through_out_proj=True),
    decode_head=dict(type='MaskClipHead', templates='vild', key_smoothing=False,
                     ks_threshold=1.0, ks_key_norm='token', prompt_denoising=False,
                     pd_threshold=0.5, pd_keep_top_class=False))
model = dict(
    type='MaskClipPlusSegmentor',
    data_preprocessor=data_preprocessor,
    teacher=teacher,
    text_classifier=dict(class_names=None, templates='vild', normalize_features=False,
                         learnable_background=False),
    unseen_classes=None,
    self_training_start=None,
    keep_gt_ignore=True,
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
        branch_norm_act=True,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=False)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
