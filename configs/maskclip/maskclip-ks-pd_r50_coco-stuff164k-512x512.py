# MaskCLIP + key smoothing + prompt denoising, CLIP ResNet-50, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 12.8
_base_ = './maskclip_r50_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
