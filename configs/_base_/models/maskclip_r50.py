# MaskCLIP with CLIP ResNet-50 (paper Sec. 3.3, Eq. 3-4): the attention pool's value and output
# projections applied at every position as 1x1 convolutions (no positional embedding, as the
# authors' maskclip_head.py:110-116); text embeddings as the classifier. Normalisation and the
# head's key smoothing / prompt denoising settings as in maskclip_vit-b16.py (the authors' code);
# the ResNet tower itself is CLIP's, as theirs (no padding: odd sizes floor).
_base_ = './maskclip_vit-b16.py'
model = dict(clip=dict(model_name='RN50'),
             backbone=dict(_delete_=True, type='MaskClipResNet', mode='maskclip'))
