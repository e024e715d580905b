# MaskCLIP+ annotation-free with a DeepLabv2-R50 target network (ViT-B/16 teacher).
_base_ = './maskclip-plus-vit-b16_deeplabv2-r101_4xb4-4k_pascal-context-59-512x512.py'
model = dict(backbone=dict(depth=50, init_cfg=dict(checkpoint='open-mmlab://resnet50_v1c')))
