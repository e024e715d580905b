# MaskCLIP + key smoothing (paper Eq. 5), CLIP ViT-B/16, on PASCAL Context val, 59 classes (long side 520 as the authors).
# Published mIoU: 23.9
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding);
# their key smoothing (keys through out_proj, token-axis key norm, threshold 1.0); long side 520;
# their class names; ImageNet mean/std.
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
model = dict(decode_head=dict(key_smoothing=True))
