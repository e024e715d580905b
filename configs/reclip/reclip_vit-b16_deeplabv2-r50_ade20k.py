# ReCLIP on ADE20K (150 classes) as the authors' released code, both stages in one command:
#   python tools/train.py configs/reclip/reclip_vit-b16_deeplabv2-r50_ade20k.py        (tools/dist_train.sh ... 4 for 4 GPUs)
# after caching the class existence once:
#   python tools/cache_class_existence.py configs/reclip/reclip-rectification_vit-b16_1xb1-150e_ade20k-512x512.py --out data/reclip_existence/ade20k_train.json
# 1. rectification -> work_dirs/<this name>/rectification/ (its best validation epoch is kept)
# 2. distillation, whose teacher loads that checkpoint -> .../distillation/
# `--resume` skips a finished stage and resumes the interrupted one; `--stages distillation`
# runs one stage.
stages = [
    dict(name='rectification', config='reclip-rectification_vit-b16_1xb1-150e_ade20k-512x512.py'),
    dict(name='distillation', config='reclip-distillation_vit-b16_deeplabv2-r50_4xb4-150e_ade20k-512x512.py',
         checkpoint_to='model.teacher_checkpoint'),
]
