# NACLIP + PAMR on Cityscapes val, 19 classes,
# with the settings of its released configs/cfg_city_scapes.py (sinahmr/NACLIP@0cac3a6).
# PAMR on, as the repository's default (naclip.py:21, pamr_steps=10) and its README table;
# the paper's main table is without (configs/naclip/naclip_vit-b16_*).
_base_ = './naclip_vit-b16_cityscapes-560x560-slide224.py'
model = dict(pamr=dict(iterations=10))
