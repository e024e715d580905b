# MaskCLIP+ annotation-free with a frozen MaskCLIP RN50 teacher: as maskclip-plus-vit-b16_deeplabv2-r101_4xb4-8k_coco-stuff164k-512x512.py,
# but the teacher (and the text classifier's CLIP) is RN50, whose embeddings are 1024-d.
# Published mIoU: 13.6 (Table 1a)
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): pseudo labels only where the ground truth is not 255 (reads its
# ignore mask); loss over all pixels; ASPP conv + BN + ReLU; the teacher as the authors' MaskCLIP;
# their class names.
_base_ = './maskclip-plus-vit-b16_deeplabv2-r101_4xb4-8k_coco-stuff164k-512x512.py'
model = dict(
    teacher=dict(clip=dict(model_name='RN50', pretrained='openai'),
                 backbone=dict(_delete_=True, type='MaskClipResNet', mode='maskclip')),
    decode_head=dict(channels=1024))
