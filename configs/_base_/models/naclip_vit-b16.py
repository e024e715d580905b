# NACLIP (Hajimiri et al., WACV 2025) as its released code evaluates it (sinahmr/NACLIP@0cac3a6,
# naclip.py and configs/): CLIP ViT-B/16 whose last block is reduced to neighbourhood attention
# (Gaussian prior, std 5 patches), the 80 ImageNet templates, sliding windows 224 / stride 112,
# logit scale 40. PAMR: off here, as the paper's main table (test_all.sh ... off); the
# naclip-pamr configs turn it on as the repository's default (pamr_steps=10) and README table.
# The benchmark configs in configs/naclip/ set the short side, window, probability threshold and
# class file per dataset.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    # CLIP's statistics rounded to 3 decimals, RGB, as theirs (naclip.py:23)
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
        mode='naclip',
        naclip_std=5.0,
        # positional embeddings resized with scale factors (n + 0.1) / 14 (clip/model.py:134-151)
        pos_embed_resize='scale_factor'),
    decode_head=dict(
        type='MaskClipHead',
        class_names=None,
        templates='imagenet',
        key_smoothing=False,
        prompt_denoising=False,
        logit_scale=40.0,
        # softmax over every name, then the max per class (naclip.py:125-136)
        softmax_over='names',
        bg_threshold=None,
        area_threshold=None,
        bg_words=None),
    # 10 steps, dilations (8, 16), on the scores at the original image size (naclip.py:21,
    # 116-121); iterations=0 here, the naclip-pamr configs set 10
    pamr=dict(iterations=0, dilations=(8, 16), resolution='original'),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
