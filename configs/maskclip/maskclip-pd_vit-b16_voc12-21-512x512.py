# MaskCLIP + prompt denoising (t = 0.5), CLIP ViT-B/16, on PASCAL VOC 2012 val, 21 classes with background.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): their ViT tower (exact GELU, LN eps 1e-6, corner padding);
# their prompt denoising (0.5, no class kept); ImageNet mean/std.
_base_ = './maskclip_vit-b16_voc12-21-512x512.py'
model = dict(decode_head=dict(prompt_denoising=True))
