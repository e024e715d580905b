# The training-free protocol of the later CLIP segmenters (SCLIP, ClearCLIP, NACLIP) on our
# MaskCLIP encoder: CLIP ViT-B/16, the last block selected by model.backbone.mode ('maskclip'
# here; tools/eval_all.py --mode sclip|clearclip|naclip|... overrides it), evaluated as those
# papers do. Each benchmark config sets the dataset, its short side and background handling.
#
# Shared settings and where they come from:
# - sliding windows 224x224, stride 112 (SCLIP's slide_crop / slide_stride defaults, kept by
#   ClearCLIP and NACLIP; the reference facts: "sliding windows (224-448 crops)");
# - logit scale 40 (SCLIP's default; only the background threshold's softmax depends on it);
# - CLIP's own normalisation, RGB (those code bases feed OpenAI CLIP its own statistics);
# - text: CLIP's 80 ImageNet templates (the 'openai_imagenet_template' of those code bases);
# - no key smoothing / prompt denoising (the published MaskCLIP row of the field's table is plain
#   MaskCLIP); PAMR off (iterations=0: the published numbers are without post-processing);
#   --cfg-options model.pamr.iterations=10 (or tools/eval_all.py --pamr) turns it on.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
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
        templates='imagenet',
        key_smoothing=False,
        prompt_denoising=False,
        logit_scale=40.0,
        bg_threshold=None,
        bg_words=None),
    pamr=dict(iterations=0, dilations=(1, 2, 4, 8, 12, 24)),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(112, 112)))
