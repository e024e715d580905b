# PASCAL VOC 2012, 21 classes (background included), same data and pipelines as
# pascal_voc12_20.py; label 0 is background, 255 (object boundaries) is ignored.
# See data/README.md.
_base_ = './pascal_voc12_20.py'
dataset_type = 'PascalVOCDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
