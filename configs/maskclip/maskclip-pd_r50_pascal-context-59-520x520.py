# MaskCLIP + prompt denoising (t = 0.5), CLIP ResNet-50, on PASCAL Context val, 59 classes (short side 520 as the authors).
# Published mIoU: 19.0
_base_ = './maskclip_r50_pascal-context-59-520x520.py'
model = dict(decode_head=dict(prompt_denoising=True))
