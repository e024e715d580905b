# MaskCLIP+ transductive zero-shot as in the paper's Table 2, whose caption says CLIP-ResNet-50
# generates the pseudo labels: as maskclip-plus-vit-b16_deeplabv2-r101_4xb4-20k_voc12-20-zero-shot-512x512.py,
# but the teacher (and the text classifier's CLIP) is RN50, whose embeddings are 1024-d.
# Published: mIoU(U) 86.1 / mIoU 88.1 / hIoU 87.4.
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): seen ground truth kept, pseudo labels on the unseen pixels
# only; loss over all pixels; ASPP conv + BN + ReLU; VOC + SBD training set; the teacher as the
# authors' MaskCLIP; their class names.
_base_ = './maskclip-plus-vit-b16_deeplabv2-r101_4xb4-20k_voc12-20-zero-shot-512x512.py'
model = dict(
    teacher=dict(clip=dict(model_name='RN50', pretrained='openai'),
                 backbone=dict(_delete_=True, type='MaskClipResNet', mode='maskclip')),
    decode_head=dict(channels=1024))
