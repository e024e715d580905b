# PASCAL VOC 2012 + SBD augmentation, 20 object classes (background ignored): training on the
# 10,582 images of ImageSets/Segmentation/trainaug.txt with SegmentationClassAug labels (VOC's
# own maps where VOC annotates, SBD's elsewhere), as the MaskCLIP authors' pascal_voc12_aug_20.py
# (L41-44: train.txt + aug.txt); validation on VOC 2012 val as pascal_voc12_20.py.
# Make the folders with tools/dataset_converters/voc_aug.py; see data/README.md.
_base_ = './pascal_voc12_20.py'
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
        ann_file='ImageSets/Segmentation/trainaug.txt'))
