# ClearCLIP (Lan et al., ECCV 2024) as its released code evaluates it (mc-lan/ClearCLIP@ad68a40,
# clearclip_segmentor.py and configs/): the last block keeps only q-q attention (no residual, no
# feed-forward); CLIP's statistics rounded as theirs (clearclip_segmentor.py:24-27); positional
# embeddings resized with scale factors (n + 0.1) / 14 (open_clip/transformer.py:566-587);
# softmax over every name, then the max per class (clearclip_segmentor.py:213-222; their class
# files have one name per class, so this is the softmax over classes); windows 448 / stride 224,
# logit scale 50, no PAMR; their model runs in fp16 (create_model(precision='fp16'),
# inputs.half()): here CUDA autocast in fp16 on a GPU, fp32 on the CPU. The benchmark configs in
# configs/clearclip/ set the short side, window (Cityscapes) and probability threshold per
# dataset; class files are plain names.
#
# Their configs/base_config.py says model_type='vanilla' (q-k attention without residual and
# feed-forward); the published ClearCLIP numbers come from model_type='ClearCLIP' (the authors,
# mc-lan/ClearCLIP issue #12), which is our mode 'clearclip'.
_base_ = './training-free-released_vit-b16.py'
model = dict(
    precision='fp16',
    backbone=dict(mode='clearclip'),
    decode_head=dict(logit_scale=50.0),
    pamr=None,
    test_cfg=dict(crop_size=(448, 448), stride=(224, 224)))
