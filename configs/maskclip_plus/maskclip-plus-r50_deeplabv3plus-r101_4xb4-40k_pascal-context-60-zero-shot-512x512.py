# MaskCLIP+ transductive zero-shot as in the paper's Table 2, whose caption says CLIP-ResNet-50
# generates the pseudo labels: as maskclip-plus-vit-b16_deeplabv3plus-r101_4xb4-40k_pascal-context-60-zero-shot-512x512.py,
# but the teacher (and the text classifier's CLIP) is RN50, whose embeddings are 1024-d.
# Published: mIoU(U) 66.7 / mIoU 48.1 / hIoU 53.3.
_base_ = './maskclip-plus-vit-b16_deeplabv3plus-r101_4xb4-40k_pascal-context-60-zero-shot-512x512.py'
model = dict(
    teacher=dict(clip=dict(model_name='RN50', pretrained='openai'),
                 backbone=dict(type='MaskClipResNet')),
    decode_head=dict(channels=1024))
