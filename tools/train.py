"""Train a segmentor (MaskCLIP+, ReCLIP and any mmseg model) with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]] [--amp]
        [--cfg-options k=v ...] [--clip-weights PATH | --random-weights] [--stages NAME ...]

``--resume`` alone continues from the latest checkpoint in the work dir; ``--resume FILE``
from that checkpoint.

A multi-stage config (one that lists ``stages``, e.g. ReCLIP's rectify -> distill) trains its
stages one after another in ``<work dir>/<stage>``, each stage receiving the previous one's final
checkpoint; ``--resume`` skips finished stages and resumes the interrupted one; ``--stages``
runs only some (the others must have finished); ``--cfg-options rectification.k=v`` changes one
stage only (maskclip/stages.py). On a machine without CUDA, SyncBN becomes BN, DDP runs over gloo on CPU,
and ``--amp`` is refused (maskclip.utils.runtime.adapt_cfg_to_machine).

Multi-GPU / multi-node: tools/dist_train.sh CONFIG GPUS [...] (torchrun, --launcher pytorch).
"""
import argparse
import os
import sys

from mmengine.config import Config, DictAction

from maskclip.engine.train_runner import AUTO, train_config, train_stages
from maskclip.utils import RANDOM_WEIGHTS_BANNER, add_clip_weight_args, exit_on_user_error
from maskclip.utils.dist import close_process_group


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


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        pipeline = Config.fromfile(args.config)
        if 'stages' in pipeline:
            runner = train_stages(args, pipeline)
        elif args.stages:
            raise ValueError(f'--stages needs a multi-stage config; {args.config} has no stages.')
        else:
            runner = train_config(args)
        close_process_group()
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
    return runner


if __name__ == '__main__':
    main()
