# SCLIP (Wang et al., ECCV 2024) as its released code evaluates it (wangf3014/SCLIP@b56bd30,
# clip_segmentor.py and configs/): CLIP ViT-B/16 with correlative self-attention in the last
# block, the 80 ImageNet templates, sliding windows 224 / stride 112, logit scale 40 (a
# benchmark config may change it), no PAMR. The benchmark configs in configs/sclip/ set the
# short side, logit scale, probability threshold, area threshold and class file per dataset.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # CLIP's statistics rounded to 3 decimals, RGB, as theirs (clip_segmentor.py:22-25)
    mean=[122.771, 116.746, 104.094],
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='MaskClipSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    data_preprocessor=data_preprocessor,
    precision='fp32',  # their model runs in fp32
    backbone=dict(
        type='MaskClipViT',
        mode='sclip',
        # positional embeddings resized with scale factors (n + 0.1) / 14 (clip/model.py:263-281)
        pos_embed_resize='scale_factor'),
    decode_head=dict(
        type='MaskClipHead',
        class_names=None,
        templates='imagenet',
        key_smoothing=False,
        prompt_denoising=False,
        logit_scale=40.0,
        # softmax over every name (synonyms, background words), then the max per class
        # (clip_segmentor.py:143-153)
        softmax_over='names',
        bg_threshold=None,
        area_threshold=None,
        bg_words=None),
    # off as released (pamr_steps=0); when on: 10 steps, dilations (8, 16), on the scores at the
    # original image size (clip_segmentor.py:20, 113-117)
    pamr=dict(iterations=0, dilations=(8, 16), resolution='original'),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
