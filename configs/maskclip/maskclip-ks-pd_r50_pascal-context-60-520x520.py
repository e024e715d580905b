# MaskCLIP + key smoothing + prompt denoising, CLIP ResNet-50, on PASCAL Context val, 60 classes with background (short side 520).
_base_ = './maskclip_r50_pascal-context-60-520x520.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
