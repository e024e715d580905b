# MaskCLIP + key smoothing (paper Eq. 5), CLIP ResNet-50, on ADE20K val, 150 classes.
_base_ = './maskclip_r50_ade20k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
