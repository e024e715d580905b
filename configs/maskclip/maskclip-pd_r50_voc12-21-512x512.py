# MaskCLIP + prompt denoising (t = 0.5), CLIP ResNet-50, on PASCAL VOC 2012 val, 21 classes with background.
_base_ = './maskclip_r50_voc12-21-512x512.py'
model = dict(decode_head=dict(prompt_denoising=True))
