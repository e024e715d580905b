# What the released training-free code of SCLIP, ClearCLIP and NACLIP shares (ClearCLIP's and
# NACLIP's segmentors were written from SCLIP's): CLIP ViT-B/16, CLIP's statistics rounded to 3
# decimals (RGB), the 80 ImageNet templates, the softmax over every name then the max per class,
# DINO-style positional-embedding resize, no KS / PD. The method bases (sclip_, clearclip_,
# naclip_vit-b16.py) set the last block and what differs; their files and lines are cited there.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.771, 116.746, 104.094],
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='MaskClipSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    data_preprocessor=data_preprocessor,
    precision='fp32',
    backbone=dict(type='MaskClipViT', pos_embed_resize='scale_factor'),
    decode_head=dict(
        type='MaskClipHead',
        class_names=None,
        templates='imagenet',
        key_smoothing=False,
        prompt_denoising=False,
        logit_scale=40.0,
        softmax_over='names',
        bg_threshold=None,
        area_threshold=None,
        bg_words=None),
    pamr=dict(iterations=0, dilations=(8, 16), resolution='original'),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
