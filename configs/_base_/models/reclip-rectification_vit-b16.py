# ReCLIP rectification stage (paper Sec. 3.1-3.4): frozen MaskCLIP ViT-B/16 features; rectified
# logits M = M_q - (M_r + M_p) from the fixed 85-template Query embeddings, a learnable Reference
# context (73 tokens) and a 3 x (conv3x3 + BN) projection of the positional embedding (one map
# shared by all classes, as the paper). Trained with Eq. 5 on hard Gumbel masks (tau 1, logits
# x 1000), temperature 0.01; only the context and the PE net learn. CLIP's own normalisation
# (the authors' code uses OpenAI's clip package). Set class_names / existence per dataset.

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.7709383, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(336, 336))
model = dict(
    type='ReCLIPRectificationSegmentor',
    clip=dict(model_name='ViT-B-16', pretrained='openai'),
    data_preprocessor=data_preprocessor,
    backbone=dict(type='MaskClipViT', mode='maskclip'),
    decode_head=dict(
        type='ReCLIPRectificationHead',
        class_names=None,
        templates='vild',
        learnable_query=False,       # Table 3
        use_reference=True,          # Table 4
        reference_context_length=None,  # 73 when every name fits 77 tokens
        use_positional=True,         # Table 4
        positional_shared=False,     # one map per class (a shared map cannot learn)
        subtract=True,               # Table 5 (False: add the bias)
        gumbel_tau=1.0,
        gumbel_scale=1000.0,
        temperature=0.01,
        existence='voc',
        existence_cache=None,        # tools/cache_class_existence.py
        prompt_denoising=True,       # test time, on softmax(100 * M)
        pd_threshold=0.5),
    test_cfg=dict(mode='whole'))
