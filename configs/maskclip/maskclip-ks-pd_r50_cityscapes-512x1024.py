# MaskCLIP + key smoothing + prompt denoising, CLIP ResNet-50, on Cityscapes val, 19 classes (short side 512).
_base_ = './maskclip_r50_cityscapes-512x1024.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
