# MaskCLIP with CLIP ResNet-50 (paper Sec. 3.3, Eq. 3-4): the attention pool's value and output
# projections applied at every position as 1x1 convolutions; text embeddings as the classifier.
# Everything else (ImageNet normalisation, head) as in maskclip_vit-b16.py.
_base_ = './maskclip_vit-b16.py'
model = dict(clip=dict(model_name='RN50'), backbone=dict(type='MaskClipResNet'))
