# MaskCLIP + prompt denoising (t = 0.5), CLIP ResNet-50, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 10.8
_base_ = './maskclip_r50_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(prompt_denoising=True))
