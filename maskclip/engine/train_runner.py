"""Training a config as tools/train.py does: the config with the command line's options, the
checks that fail in seconds (recipe vs world size, CLIP weights, data layout), the Runner, and
multi-stage configs (ReCLIP's rectify -> distill) stage after stage (:mod:`.stages`).

``args`` holds tools/train.py's options: ``config, work_dir, resume, amp, cfg_options,
launcher, clip_weights, random_weights, stages, scale_lr``.
"""
from __future__ import annotations

import argparse
import logging
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.dist import barrier, get_rank
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from maskclip.datasets import check_dataset_layout
from maskclip.engine.checkpoint_files import (AUTO, check_checkpoint_fits, resume_checkpoint,
                                              use_atomic_checkpoints)
from maskclip.engine.recipe import check_recipe_world_size, launched_world_size
from maskclip.stages import (banner, clear_finished, finished_checkpoint, from_rank0,
                                    kept_checkpoint, last_checkpoint, mark_finished,
                                    read_stages, split_stage_options)
from maskclip.utils import check_clip_weights, init_cpu_process_group, load_tool_cfg
from maskclip.utils.cpu_memory import keep_freed_memory_on_cpu
from maskclip.utils.dist import init_process_group
from maskclip.utils.runtime import adapt_cfg_to_machine


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


def build_train_cfg(args):
    """The config of ``args.config`` for training: tools/train.py's options applied (``--amp``,
    ``--resume``), adapted to the machine (no CUDA: BN, gloo)."""
    cfg = load_tool_cfg(args)
    if args.amp:
        enable_amp(cfg)
    checkpoint = resume_checkpoint(cfg.work_dir, args.resume)  # refuses an empty work dir
    if checkpoint:
        cfg.resume, cfg.load_from = True, checkpoint
        print_log(f'Resuming from {checkpoint}' + (
            f' (the latest checkpoint of {cfg.work_dir})' if args.resume == AUTO else ''),
            logger='current')
    use_atomic_checkpoints(cfg)
    adapt_cfg_to_machine(cfg, args.launcher, training=True)
    return cfg


def train_config(args):
    """Train one config (tools/train.py's ``args``); returns the Runner."""
    cfg = build_train_cfg(args)
    check_recipe_world_size(cfg, launched_world_size(args.launcher), args.scale_lr)
    check_clip_weights(cfg.model)
    check_dataset_layout(cfg.train_dataloader.dataset)
    keep_freed_memory_on_cpu()
    init_cpu_process_group(args.launcher)
    # a custom runner when the config names one (mmseg's tools/train.py does the same)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if cfg.get('resume') and cfg.get('load_from'):
        check_checkpoint_fits(runner.model, cfg.load_from)
    runner.train()
    return runner


def train_stages(args, pipeline):
    """Train the stages of a multi-stage config (``pipeline``, its ``stages``) in order, each in
    ``<work dir>/<stage>`` with the previous stage's final checkpoint; returns the last Runner."""
    stages = read_stages(pipeline)
    names = [stage.name for stage in stages]
    selected = args.stages or names
    if set(selected) - set(names):
        raise ValueError(f'--stages {selected}: this config has the stages {names}.')
    if args.resume not in (None, AUTO):
        raise ValueError('A multi-stage config resumes from its work dir: give --resume without '
                         'a checkpoint path.')
    common, per_stage = split_stage_options(args.cfg_options, stages)
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
    if args.resume and not any(from_rank0(lambda: bool(
            finished_checkpoint(osp.join(root, stage.name))
            or last_checkpoint(osp.join(root, stage.name)))) for stage in stages):
        raise ValueError(f'--resume: nothing to resume in {root} (no stage has a checkpoint '
                         'there). Check --work-dir, or drop --resume to start a new training.')
    runner, previous = None, None
    for number, stage in enumerate(stages, 1):
        work_dir = osp.join(root, stage.name)
        done, resumable = from_rank0(
            lambda: (finished_checkpoint(work_dir),
                     bool(last_checkpoint(work_dir))))
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
            print_log(banner(
                f'Stage {number}/{len(stages)}: {stage.name} '
                f"({'resuming' if stage_args.resume else 'starting'}; "
                f'{osp.basename(stage.config)}; work dir {work_dir})'), logger='current')
            clear_finished(work_dir)
        barrier()
        runner = release_runner(runner)  # the previous stage's model and optimizer leave the GPU
        runner = train_config(stage_args)
        runner.logger.info(f'Stage {number}/{len(stages)} ({stage.name}) finished.')
        if get_rank() == 0:
            mark_finished(work_dir, kept_checkpoint(runner))
        barrier()
        previous = from_rank0(lambda: finished_checkpoint(work_dir))
    return runner


def release_runner(runner):
    """Hand a finished stage's GPU memory back before the next stage builds: its model goes to
    the CPU and its optimizer state is dropped (no ``gc.collect()``: collecting a live Runner's
    cycles mid-run made gloo ranks abort). Returns None, for ``runner = release_runner(runner)``."""
    if runner is not None and torch.cuda.is_available():
        runner.model.cpu()
        optimizer = getattr(getattr(runner, 'optim_wrapper', None), 'optimizer', None)
        if optimizer is not None:
            optimizer.state.clear()
        torch.cuda.empty_cache()
    return None
