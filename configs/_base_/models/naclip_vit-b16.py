# NACLIP (Hajimiri et al., WACV 2025) as its released code evaluates it (sinahmr/NACLIP@0cac3a6,
# naclip.py and configs/): the last block reduced to neighbourhood attention (Gaussian prior,
# std 5 patches); CLIP's statistics rounded as theirs (naclip.py:23); positional embeddings
# resized with scale factors (n + 0.1) / 14 (clip/model.py:134-151); softmax over every name,
# then the max per class (naclip.py:125-136); windows 224 / stride 112, logit scale 40. PAMR: 10
# steps, dilations (8, 16), on the scores at the original image size (naclip.py:21, 116-121);
# off here, as the paper's main table (test_all.sh ... off); the naclip-pamr configs turn it on
# as the repository's default (pamr_steps=10) and README table. The benchmark configs in
# configs/naclip/ set the short side, window, probability threshold and class file per dataset.
_base_ = './training-free-released_vit-b16.py'
model = dict(backbone=dict(mode='naclip', naclip_std=5.0))
