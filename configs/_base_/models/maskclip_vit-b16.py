# MaskCLIP with CLIP ViT-B/16 (paper Sec. 3.3): dense features from the last block's value path,
# text embeddings of the class prompts as a frozen 1x1 classifier.
# Images are normalised with ImageNet mean/std, as in the authors' configs (not CLIP's own).
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
    backbone=dict(type='MaskClipViT', mode='maskclip'),
    decode_head=dict(
        type='MaskClipHead',
        class_names=None,
        templates='vild',
        key_smoothing=False,
        ks_threshold=None,
        prompt_denoising=False,
        pd_threshold=0.5),
    test_cfg=dict(mode='whole'))
