# MaskCLIP + key smoothing + prompt denoising, CLIP ResNet-50, on PASCAL VOC 2012 val, 20 classes without background.
_base_ = './maskclip_r50_voc12-20-512x512.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
