# ReCLIP on Cityscapes (19 classes), both stages in one command:
#   python tools/train.py configs/reclip/reclip_vit-b16_deeplabv2-r101_cityscapes.py        (tools/dist_train.sh ... 4 for 4 GPUs)
# 1. rectification -> work_dirs/<this name>/rectification/
# 2. distillation, whose teacher loads stage 1's final checkpoint -> .../distillation/
# `--resume` skips a finished stage and resumes the interrupted one; `--stages distillation`
# runs one stage; `--cfg-options rectification.train_cfg.max_epochs=1` changes one stage.
stages = [
    dict(name='rectification', config='reclip-rectification_vit-b16_1xb1-50e_cityscapes-512x512.py'),
    dict(name='distillation', config='reclip-distillation_vit-b16_deeplabv2-r101_4xb4-8k_cityscapes-512x1024.py',
         checkpoint_to='model.teacher_checkpoint'),
]
