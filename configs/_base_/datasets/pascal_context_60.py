# PASCAL Context, 60 classes (background included), same data and pipelines as
# pascal_context_59.py; label 0 is the background class. See data/README.md.
_base_ = './pascal_context_59.py'
dataset_type = 'PascalContextDataset'
train_dataloader = dict(dataset=dict(type=dataset_type))
val_dataloader = dict(dataset=dict(type=dataset_type))
test_dataloader = val_dataloader
