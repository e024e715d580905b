"""Train a segmentor (MaskCLIP+, ReCLIP and any mmseg model) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--cfg-options k=v ...] [--clip-weights PATH | --random-weights] [--stages NAME ...]

``--resume`` alone continues from the latest checkpoint in the work dir; ``--resume FILE``
from that checkpoint.

A multi-stage config (one that lists ``stages``, e.g. ReCLIP's rectify -> distill) trains its
stages one after another in ``<work dir>/<stage>``, each stage receiving the previous one's final
checkpoint; ``--resume`` skips finished stages and resumes the interrupted one; ``--stages``
runs only some (the others must have finished); ``--cfg-options rectification.k=v`` changes one
stage only (maskclip/engine/stages.py). On a machine without CUDA, SyncBN becomes BN, DDP runs over gloo on CPU,
and ``--amp`` is refused (maskclip.utils.runtime.adapt_cfg_to_machine).

Multi-GPU / multi-node: tools/dist_train.sh CONFIG GPUS [...] (torchrun, --launcher pytorch).
"""
import argparse
import logging
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.dist import barrier, get_rank
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from maskclip.datasets import check_dataset_layout
from maskclip.engine import stages as stages_lib
from maskclip.engine.recipe import check_recipe_world_size, launched_world_size
from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,
                            check_clip_weights, exit_on_user_error, load_tool_cfg,
                            init_cpu_process_group)
from maskclip.utils.dist import close_process_group, init_process_group
from maskclip.utils.runtime import adapt_cfg_to_machine

AUTO = 'auto'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor (mmseg train).')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints are saved')
    parser.add_argument('--resume', nargs='?', const=AUTO, default=None, metavar='CHECKPOINT',
                        help='resume training: alone, from the latest checkpoint in the work dir; '
                             'with a path, from that checkpoint')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed-precision training (needs a GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. train_cfg.max_iters=1000')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--stages', nargs='+', metavar='NAME',
                        help='multi-stage configs: run only these stages')
    parser.add_argument('--scale-lr', action='store_true',
                        help="run a config's recipe (recipe_gpus) on another number of GPUs, "
                             'scaling the learning rate linearly with the total batch')
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg):
    """``--amp`` as in mmseg: OptimWrapper -> AmpOptimWrapper with dynamic loss scaling."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if optim_wrapper == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in your config.', logger='current',
                  level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError('--amp works only when optim_wrapper.type is OptimWrapper, '
                         f'but the config has {optim_wrapper}.')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.loss_scale = 'dynamic'


def build_cfg(args):
    cfg = load_tool_cfg(args)
    if args.amp:
        enable_amp(cfg)
    if args.resume == AUTO:  # the Runner finds the latest checkpoint of the work dir
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    adapt_cfg_to_machine(cfg, args.launcher, training=True)
    return cfg


def train(args):
    """Train one config; returns the Runner."""
    cfg = build_cfg(args)
    check_recipe_world_size(cfg, launched_world_size(args.launcher), args.scale_lr)
    check_clip_weights(cfg.model)
    check_dataset_layout(cfg.train_dataloader.dataset)
    init_cpu_process_group(args.launcher)
    # a custom runner when the config names one (mmseg's tools/train.py does the same)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()
    return runner


def train_stages(args, pipeline):
    """Train the stages of a multi-stage config in order; returns the last Runner."""
    stages = stages_lib.read_stages(pipeline)
    names = [stage.name for stage in stages]
    selected = args.stages or names
    if set(selected) - set(names):
        raise ValueError(f'--stages {selected}: this config has the stages {names}.')
    if args.resume not in (None, AUTO):
        raise ValueError('A multi-stage config resumes from its work dir: give --resume without '
                         'a checkpoint path.')
    common, per_stage = stages_lib.split_stage_options(args.cfg_options, stages)
    world_size = launched_world_size(args.launcher)
    for stage in stages:  # every selected stage's recipe fits this run, before any trains
        if stage.name in selected:
            cfg = Config.fromfile(stage.config)
            cfg.merge_from_dict(dict(common, **per_stage[stage.name]))
            check_recipe_world_size(cfg, world_size, args.scale_lr, f"stage '{stage.name}'")
    root = args.work_dir or pipeline.get('work_dir') or osp.join(
        './work_dirs', osp.splitext(osp.basename(args.config))[0])
    # ranks exist from here on: rank 0 reads and writes the stage records, the others get its
    # answers (they all share the work dir and would otherwise race on its files)
    init_process_group(args.launcher)
    runner, previous = None, None
    for number, stage in enumerate(stages, 1):
        work_dir = osp.join(root, stage.name)
        done, resumable = stages_lib.from_rank0(
            lambda: (stages_lib.finished_checkpoint(work_dir),
                     bool(stages_lib.last_checkpoint(work_dir))))
        if stage.name not in selected or (args.resume and done):
            if stage.name in selected:
                print_log(f'Stage {number}/{len(stages)} ({stage.name}) already finished: '
                          f'{done}; skipping it.', logger='current')
            previous = done
            continue
        options = dict(common, **per_stage[stage.name])
        if stage.checkpoint_to:
            if previous is None:
                raise ValueError(f"Stage '{stage.name}' needs the final checkpoint of the stage "
                                 f'before it, which has not finished in {root}; run that stage '
                                 'first (or the whole config).')
            options[stage.checkpoint_to] = previous
        stage_args = argparse.Namespace(**vars(args))
        stage_args.config, stage_args.work_dir, stage_args.cfg_options = (
            stage.config, work_dir, options)
        stage_args.resume = AUTO if args.resume and resumable else None
        if get_rank() == 0:
            print_log(stages_lib.banner(
                f'Stage {number}/{len(stages)}: {stage.name} '
                f"({'resuming' if stage_args.resume else 'starting'}; "
                f'{osp.basename(stage.config)}; work dir {work_dir})'), logger='current')
            stages_lib.clear_finished(work_dir)
        barrier()
        runner = release(runner)  # the previous stage's model and optimizer leave the GPU
        runner = train(stage_args)
        runner.logger.info(f'Stage {number}/{len(stages)} ({stage.name}) finished.')
        if get_rank() == 0:
            stages_lib.mark_finished(work_dir, stages_lib.kept_checkpoint(runner))
        barrier()
        previous = stages_lib.from_rank0(lambda: stages_lib.finished_checkpoint(work_dir))
    return runner


def release(runner):
    """Hand a finished stage's GPU memory back before the next stage builds: its model goes to
    the CPU and its optimizer state is dropped (no ``gc.collect()``: collecting a live Runner's
    cycles mid-run made gloo ranks abort). Returns None, for ``runner = release(runner)``."""
    if runner is not None and torch.cuda.is_available():
        runner.model.cpu()
        optimizer = getattr(getattr(runner, 'optim_wrapper', None), 'optimizer', None)
        if optimizer is not None:
            optimizer.state.clear()
        torch.cuda.empty_cache()
    return None


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        pipeline = Config.fromfile(args.config)
        if 'stages' in pipeline:
            runner = train_stages(args, pipeline)
        elif args.stages:
            raise ValueError(f'--stages needs a multi-stage config; {args.config} has no stages.')
        else:
            runner = train(args)
        close_process_group()
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return runner


if __name__ == '__main__':
    main()
