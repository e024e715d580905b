# MaskCLIP+ annotation-free: DeepLabv2-R101 trained 8k iterations on the pseudo labels
# of a frozen MaskCLIP vit-b16 teacher (no self-training), batch 16 = 4 GPUs x 4, crop 512.
# (The paper's Table 1a row for the ViT-B/16 teacher, 18.0, is carried by the DeepLabv2-R50
# twin: the authors' ViT-teacher configs build a ResNet-50 student; see docs/reproduction.md.)
# Reproduces the authors' released code (chongzhou96/MaskCLIP@245d31f), departures from the paper
# used here (docs/reproduction.md): pseudo labels only where the ground truth is not 255 (reads its
# ignore mask); loss over all pixels; ASPP conv + BN + ReLU; the teacher as the authors' MaskCLIP;
# their class names.
_base_ = [
    '../_base_/models/maskclip-plus_deeplabv2-r101.py',
    '../_base_/datasets/coco-stuff164k.py',
    '../_base_/schedules/schedule_8k.py',
]
crop_size = (512, 512)
model = dict(
    text_classifier=dict(class_names='coco_stuff_171_maskclip'),
    data_preprocessor=dict(size=crop_size))
