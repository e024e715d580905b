# ReCLIP on ADE20K (150 classes), both stages in one command:
#   python tools/train.py configs/reclip/reclip_vit-b16_deeplabv2-r101_ade20k.py        (tools/dist_train.sh ... 4 for 4 GPUs)
# 1. rectification -> work_dirs/<this name>/rectification/
# 2. distillation, whose teacher loads stage 1's final checkpoint -> .../distillation/
# `--resume` skips a finished stage and resumes the interrupted one; `--stages distillation`
# runs one stage; `--cfg-options rectification.train_cfg.max_epochs=1` changes one stage.
stages = [
    dict(name='rectification', config='reclip-rectification_vit-b16_1xb1-100e_ade20k-512x512.py'),
    dict(name='distillation', config='reclip-distillation_vit-b16_deeplabv2-r101_4xb4-8k_ade20k-512x512.py',
         checkpoint_to='model.teacher_checkpoint'),
]
