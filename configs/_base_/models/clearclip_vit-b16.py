# ClearCLIP (Lan et al., ECCV 2024) as its released code evaluates it (mc-lan/ClearCLIP@ad68a40,
# clearclip_segmentor.py and configs/): CLIP ViT-B/16 whose last block keeps only q-q attention
# (no residual, no feed-forward), the 80 ImageNet templates, sliding windows 448 / stride 224,
# logit scale 50, fp16, no PAMR. The benchmark configs in configs/clearclip/ set the short side,
# window (Cityscapes) and probability threshold per dataset; class files are plain names.
#
# Their configs/base_config.py says model_type='vanilla' (q-k attention without residual and
# feed-forward); the published ClearCLIP numbers come from model_type='ClearCLIP' (the authors,
# mc-lan/ClearCLIP issue #12), which is our mode 'clearclip'.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # CLIP's statistics rounded to 3 decimals, RGB, as theirs (clearclip_segmentor.py:24-27)
    mean=[122.771, 116.746, 104.094],
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='MaskClipSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    data_preprocessor=data_preprocessor,
    # their model runs in fp16 (create_model(precision='fp16'), inputs.half()): here CUDA
    # autocast in fp16 on a GPU, fp32 on the CPU
    precision='fp16',
    backbone=dict(
        type='MaskClipViT',
        mode='clearclip',
        # positional embeddings resized with scale factors (n + 0.1) / 14
        # (open_clip/transformer.py:566-587)
        pos_embed_resize='scale_factor'),
    decode_head=dict(
        type='MaskClipHead',
        class_names=None,
        templates='imagenet',
        key_smoothing=False,
        prompt_denoising=False,
        logit_scale=50.0,
        # softmax over every name, then the max per class (clearclip_segmentor.py:213-222); their
        # class files have one name per class, so this is the softmax over classes
        softmax_over='names',
        bg_threshold=None,
        area_threshold=None,
        bg_words=None),
    pamr=None,
    test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)))
