# SCLIP (Wang et al., ECCV 2024) as its released code evaluates it (wangf3014/SCLIP@b56bd30,
# clip_segmentor.py and configs/): correlative self-attention in the last block; CLIP's
# statistics rounded as theirs (clip_segmentor.py:22-25); positional embeddings resized with
# scale factors (n + 0.1) / 14 (clip/model.py:263-281); softmax over every name, then the max per
# class (clip_segmentor.py:143-153); windows 224 / stride 112, logit scale 40 (a benchmark config
# may change it); PAMR off as released (pamr_steps=0), and when on 10 steps, dilations (8, 16),
# on the scores at the original image size (clip_segmentor.py:20, 113-117). The benchmark
# configs in configs/sclip/ set the short side, logit scale, probability threshold, area
# threshold and class file per dataset.
_base_ = './training-free-released_vit-b16.py'
model = dict(backbone=dict(mode='sclip'))
