# NACLIP + PAMR on PASCAL VOC 2012 val, 20 object classes (background ignored),
# with the settings of its released configs/cfg_voc20.py (sinahmr/NACLIP@0cac3a6).
# PAMR on, as the repository's default (naclip.py:21, pamr_steps=10) and its README table;
# the paper's main table is without (configs/naclip/naclip_vit-b16_*).
_base_ = './naclip_vit-b16_voc20-336x336-whole.py'
model = dict(pamr=dict(iterations=10))
