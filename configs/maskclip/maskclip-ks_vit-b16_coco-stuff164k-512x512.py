# MaskCLIP + key smoothing (paper Eq. 5), CLIP ViT-B/16, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 13.8
_base_ = './maskclip_vit-b16_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
