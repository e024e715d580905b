# MaskCLIP + key smoothing + prompt denoising, CLIP ResNet-50, on PASCAL Context val, 59 classes (short side 520 as the authors).
# Published mIoU: 21.8
_base_ = './maskclip_r50_pascal-context-59-520x520.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
