# MaskCLIP + key smoothing (paper Eq. 5), CLIP ViT-B/16, on ADE20K val, 150 classes.
_base_ = './maskclip_vit-b16_ade20k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
