# MaskCLIP + prompt denoising (t = 0.5), CLIP ViT-B/16, on Cityscapes val, 19 classes (short side 512).
_base_ = './maskclip_vit-b16_cityscapes-512x1024.py'
model = dict(decode_head=dict(prompt_denoising=True))
