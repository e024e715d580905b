# MaskCLIP + prompt denoising (t = 0.5), CLIP ViT-B/16, on PASCAL Context val, 60 classes with background (short side 520).
_base_ = './maskclip_vit-b16_pascal-context-60-520x520.py'
model = dict(decode_head=dict(prompt_denoising=True))
