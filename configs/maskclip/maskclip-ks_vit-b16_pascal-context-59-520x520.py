# MaskCLIP + key smoothing (paper Eq. 5), CLIP ViT-B/16, on PASCAL Context val, 59 classes (short side 520 as the authors).
# Published mIoU: 23.9
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
model = dict(decode_head=dict(key_smoothing=True))
