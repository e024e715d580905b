# MaskCLIP+ annotation-free: DeepLabv2-R101 trained 2k iterations on the pseudo labels
# of a frozen MaskCLIP vit-b16 teacher (no self-training), batch 16 = 4 GPUs x 4, crop 512,
# on VOC 2012 + SBD (10,582 images) as the authors' voc12aug configs; their class names.
# Published mIoU: 70.0 (ReCLIP Table 2)
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): pseudo labels only where the ground truth is not 255 (reads its
# ignore mask); loss over all pixels; ASPP conv + BN + ReLU; VOC + SBD training set; the teacher as
# the authors' MaskCLIP; their class names.
_base_ = [
    '../_base_/models/maskclip-plus_deeplabv2-r101.py',
    '../_base_/datasets/pascal_voc12_aug_20.py',
    '../_base_/schedules/schedule_2k.py',
]
crop_size = (512, 512)
model = dict(
    text_classifier=dict(class_names='voc20_maskclip'),
    data_preprocessor=dict(size=crop_size))
