# MaskCLIP + prompt denoising (t = 0.5), CLIP ViT-B/16, on COCO-Stuff 164k val, 171 classes.
# Published mIoU: 13.2
_base_ = './maskclip_vit-b16_coco-stuff164k-512x512.py'
model = dict(decode_head=dict(prompt_denoising=True))
