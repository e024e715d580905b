# ReCLIP distillation stage as the authors' released code (dogehhh/ReCLIP@99b64d7
# model/model.py:1061-1369, tools/distill.py; docs/reproduction.md has each line): DeepLabv2
# with a ResNet-50 v1c (output stride 8), ASPP 6/12/18/24 whose branches are conv + BN + ReLU,
# summed; the classifier is cos(f, W_q) - cos(f, W_r) (fixed, no logit scale); the teacher is
# the authors' rectification model on the student's own ImageNet-normalised crop. Pseudo
# labels: PD on softmax(10 M) < 0.5, PE BatchNorm on batch statistics, only pixels whose ground
# truth is a class (keep_gt_ignore: the ground truth's ignore mask is read). Loss: CE averaged
# over all pixels + 0.5 L_feat + 0.5 L_text with the released code's detached features (only
# L_mask trains the student; feature_terms_grad=True is the paper's Table 7).
_base_ = ['./reclip-rectification_vit-b16-authors.py']
teacher = {{_base_.model}}
data_preprocessor = {{_base_.model.data_preprocessor}}  # ImageNet statistics, as the teacher's
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    _delete_=True,
    type='ReCLIPDistillSegmentor',
    data_preprocessor=data_preprocessor,
    teacher=teacher,
    teacher_checkpoint=None,
    student_head='query_reference',
    feature_loss_weight=0.5,
    text_loss_weight=0.5,
    normalize_features=True,
    feature_terms_grad=False,
    pseudo_label_pd=dict(scale=10.0, threshold=0.5, keep_top_class=False),
    keep_gt_ignore=True,
    teacher_pe_norm='batch',
    distill_terms='authors',
    teacher_amp=False,  # their teacher runs in float32 (model/model.py:39-41, 86-88, 211-216)
    backbone=dict(
        type='ResNetV1c',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
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
recipe_gpus = 4  # batch 16 = 4 GPUs x 4 (tools/train.py refuses another world size unless --scale-lr)
