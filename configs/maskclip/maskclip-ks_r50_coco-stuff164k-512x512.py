# MaskCLIP + key smoothing (paper Eq. 5), CLIP ResNet-50, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 12.4
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their key smoothing (token-axis key norm, threshold 1.0); their
# class names; ImageNet mean/std.
_base_ = './maskclip_r50_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
