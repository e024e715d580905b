# MaskCLIP + key smoothing (paper Eq. 5), CLIP ResNet-50, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 12.4
_base_ = './maskclip_r50_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True))
