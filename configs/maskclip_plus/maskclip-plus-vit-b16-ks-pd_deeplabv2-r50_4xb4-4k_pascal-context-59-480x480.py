# MaskCLIP+ annotation-free whose ViT-B/16 teacher refines its pseudo labels with key smoothing and prompt denoising, as
# the authors' anno_free/maskclip_plus_kspd_vit16_deeplabv2_r101-d8_480x480_4k_pascal_context_59.py
# (ks_thresh 1.0 / pd_thresh 0.5 with their key and prompt-denoising rules; a ResNet-50 student).
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): pseudo labels only where the ground truth is not 255 (reads its
# ignore mask); loss over all pixels; ASPP conv + BN + ReLU; crop 480 at long side 520; ResNet-50
# student; the teacher as the authors' MaskCLIP; their class names.
_base_ = './maskclip-plus-vit-b16_deeplabv2-r50_4xb4-4k_pascal-context-59-480x480.py'
model = dict(teacher=dict(decode_head=dict(key_smoothing=True, prompt_denoising=True)))
