# MaskCLIP + key smoothing + prompt denoising, CLIP ResNet-50, on PASCAL Context val, 59 classes (long side 520 as the authors).
# Published mIoU: 21.8
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their key smoothing (token-axis key norm, threshold 1.0); their
# prompt denoising (0.5, no class kept); long side 520; their class names; ImageNet mean/std.
_base_ = './maskclip_r50_pascal-context-59-520x520.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
