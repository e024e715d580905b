# MaskCLIP + key smoothing + prompt denoising, CLIP ViT-B/16, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 14.6
_base_ = './maskclip_vit-b16_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(key_smoothing=True, prompt_denoising=True))
