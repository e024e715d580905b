# MaskCLIP + prompt denoising (t = 0.5), CLIP ViT-B/16, on PASCAL Context val, 59 classes (short side 520 as the authors).
# Published mIoU: 23.1
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
model = dict(decode_head=dict(prompt_denoising=True))
