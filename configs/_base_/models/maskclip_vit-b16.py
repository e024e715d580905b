# MaskCLIP with CLIP ViT-B/16 (paper Sec. 3.3): dense features from the last block's value path,
# text embeddings of the class prompts as a frozen 1x1 classifier.
# As the authors' released code (chongzhou96/MaskCLIP@245d31f), which made the published numbers;
# every departure from the paper below is a named option, listed in docs/reproduction.md:
# * images normalised with ImageNet mean/std (the authors' dataset configs), not CLIP's own;
# * the image tower as their mmcv ViT ran CLIP's weights: exact GELU, LayerNorm eps 1e-6,
#   input zero-padded at the bottom/right to whole 16-pixel patches
#   (configs/_base_/models/maskclip_vit16.py:22-23, mmseg/models/backbones/vit.py:228);
# * key smoothing (when a config turns it on) as their head: keys through the attention's output
#   projection (vit.py:94-108), L2-normalised along the token axis, only positions whose top
#   confidence is below 1.0 smoothed (mmseg/models/decode_heads/maskclip_head.py:137-152);
# * prompt denoising (when on): threshold 0.5, no class kept on purpose (maskclip_head.py:130-135).
# The modules' defaults (MaskClipViT, MaskClipHead, maskclip.create_segmenter) follow the paper.
# `class_names` is set per dataset; weights: open_clip tag 'openai' or a local file
# (tools/test.py --clip-weights PATH, or MASKCLIP_CLIP_WEIGHTS=PATH).
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255)
model = dict(
    type='MaskClipSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    data_preprocessor=data_preprocessor,
    backbone=dict(type='MaskClipViT', mode='maskclip', mlp_act='gelu', ln_eps=1e-6,
                  patch_padding='corner', keys_through_out_proj=True),
    decode_head=dict(
        type='MaskClipHead',
        class_names=None,
        templates='vild',
        key_smoothing=False,
        ks_threshold=1.0,
        ks_key_norm='token',
        prompt_denoising=False,
        pd_threshold=0.5,
        pd_keep_top_class=False),
    test_cfg=dict(mode='whole'))
# Robustness (tools/robustness.py, paper Tables 1b / 4): the corruption is applied to the original
# image before the resize, and ImageNet-C receives mmcv's BGR array as if it were RGB, as the
# authors' configs/maskclip/corrupt/* and their Corrupt transform (transforms.py:1315-1333).
corruption_channels = 'bgr'
