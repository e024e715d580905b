# MaskCLIP + key smoothing (paper Eq. 5), CLIP ViT-B/16, on PASCAL VOC 2012 val, 20 classes without background.
_base_ = './maskclip_vit-b16_voc12-20-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
