# MaskCLIP + prompt denoising (t = 0.5), CLIP ResNet-50, on ADE20K val, 150 classes.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their prompt denoising (0.5, no class kept); their class names;
# ImageNet mean/std.
_base_ = './maskclip_r50_ade20k-512x512.py'
model = dict(decode_head=dict(prompt_denoising=True))
