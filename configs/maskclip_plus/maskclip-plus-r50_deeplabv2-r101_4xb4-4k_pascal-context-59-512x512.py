# MaskCLIP+ annotation-free with a frozen MaskCLIP RN50 teacher: as maskclip-plus-vit-b16_deeplabv2-r101_4xb4-4k_pascal-context-59-512x512.py,
# but the teacher (and the text classifier's CLIP) is RN50, whose embeddings are 1024-d.
# Published mIoU: 23.9 (Table 1a)
_base_ = './maskclip-plus-vit-b16_deeplabv2-r101_4xb4-4k_pascal-context-59-512x512.py'
model = dict(
    teacher=dict(clip=dict(model_name='RN50', pretrained='openai'),
                 backbone=dict(type='MaskClipResNet')),
    decode_head=dict(channels=1024))
