# MaskCLIP+ transductive zero-shot as in the paper's Table 2, whose caption says CLIP-ResNet-50
# generates the pseudo labels: as maskclip-plus-vit-b16_deeplabv3plus-r101_4xb4-40k_pascal-context-60-zero-shot-480x480.py,
# but the teacher (and the text classifier's CLIP) is RN50, whose embeddings are 1024-d.
# Published: mIoU(U) 66.7 / mIoU 48.1 / hIoU 53.3.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): seen ground truth kept, pseudo labels on the unseen pixels
# only; loss over all pixels; crop 480 at long side 520; lr 0.004, wd 1e-4, random learned
# background; the teacher as the authors' MaskCLIP; their class names.
_base_ = './maskclip-plus-vit-b16_deeplabv3plus-r101_4xb4-40k_pascal-context-60-zero-shot-480x480.py'
model = dict(
    teacher=dict(clip=dict(model_name='RN50', pretrained='openai'),
                 backbone=dict(_delete_=True, type='MaskClipResNet', mode='maskclip')),
    decode_head=dict(channels=1024))
