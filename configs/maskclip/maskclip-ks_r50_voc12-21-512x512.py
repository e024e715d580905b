# MaskCLIP + key smoothing (paper Eq. 5), CLIP ResNet-50, on PASCAL VOC 2012 val, 21 classes with background.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their key smoothing (token-axis key norm, threshold 1.0);
# ImageNet mean/std.
_base_ = './maskclip_r50_voc12-21-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
