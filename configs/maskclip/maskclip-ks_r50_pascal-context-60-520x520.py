# MaskCLIP + key smoothing (paper Eq. 5), CLIP ResNet-50, on PASCAL Context val, 60 classes with background (long side 520).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their key smoothing (token-axis key norm, threshold 1.0); long
# side 520; ImageNet mean/std.
_base_ = './maskclip_r50_pascal-context-60-520x520.py'
model = dict(decode_head=dict(key_smoothing=True))
