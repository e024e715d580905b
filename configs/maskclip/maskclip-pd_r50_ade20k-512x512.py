# MaskCLIP + prompt denoising (t = 0.5), CLIP ResNet-50, on ADE20K val, 150 classes.
_base_ = './maskclip_r50_ade20k-512x512.py'
model = dict(decode_head=dict(prompt_denoising=True))
