# MaskCLIP, CLIP ViT-B/16, PASCAL Context 59 with sliding-window inference: 448x448 windows,
# stride 224, on the image resized to short side 520 (window logits are averaged where they overlap).
_base_ = './maskclip_vit-b16_pascal-context-59-520x520.py'
model = dict(test_cfg=dict(mode='slide', crop_size=(448, 448), stride=(224, 224)))
