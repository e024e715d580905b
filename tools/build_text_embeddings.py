"""Precompute the class text embeddings of configs into the cache that the configs read.

    python tools/build_text_embeddings.py CONFIG [CONFIG ...] [--clip-weights PATH | --random-weights]
        [--cfg-options k=v ...] [--cache-dir DIR]
    python tools/build_text_embeddings.py --model ViT-B-16 [--pretrained openai] --classes voc21
        [--templates vild] [--cache-dir DIR]

Every head of a config with ``class_names`` is embedded with its CLIP (the head's ``clip`` or the
segmentor's) and templates (default ``'vild'``), once; later runs of tools/test.py, the demo or the
API read the cached file instead of running the text encoder. Useful before a multi-GPU run (the
workers then do not all compute the same embeddings) or to prepare an offline machine.
"""
import argparse
import os.path as osp
import sys
import time

from mmengine.config import Config, DictAction

from maskclip.clip import ClipSpec, check_weights
from maskclip.text import class_text_embeddings, load_vocabulary, resolve_templates
from maskclip.text.embeddings import cache_path
from maskclip.utils import (RANDOM_WEIGHTS_BANNER, add_clip_weight_args,
                            apply_clip_weight_args, exit_on_user_error)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Compute and cache the class text embeddings of configs (or of one model, '
                    'vocabulary and template set).')
    parser.add_argument('configs', nargs='*', metavar='CONFIG', help='segmentor config file(s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.clip.model_name=RN50')
    without = parser.add_argument_group('without a config')
    without.add_argument('--model', help="open_clip model name, e.g. 'ViT-B-16'")
    without.add_argument('--pretrained', default=None,
                         help="open_clip tag or weight file (default: --clip-weights, else 'openai')")
    without.add_argument('--classes', help='built-in vocabulary name (e.g. voc21) or class file')
    without.add_argument('--templates', default='vild', help="'vild' (default), 'imagenet' or "
                         "'single'")
    without.add_argument('--quick-gelu', action=argparse.BooleanOptionalAction, default=None,
                         help='force QuickGELU on or off (default: decided from the weights)')
    parser.add_argument('--cache-dir', default=None,
                        help='embedding cache directory (default: the head\'s text_cache_dir, '
                             'else $MASKCLIP_CACHE_DIR/text_embeddings or '
                             '~/.cache/maskclip/text_embeddings)')
    add_clip_weight_args(parser)
    args = parser.parse_args(argv)
    if bool(args.configs) == bool(args.model or args.classes):
        parser.error('give CONFIG file(s), or --model and --classes (not both)')
    if args.model and not args.classes or args.classes and not args.model:
        parser.error('--model and --classes go together')
    if not args.configs and args.random_weights and (args.clip_weights or args.pretrained):
        parser.error('give either --random-weights or --pretrained / --clip-weights, not both')
    if not args.configs and args.cfg_options:
        parser.error('--cfg-options applies to configs only')
    if args.configs and (args.pretrained or args.quick_gelu is not None
                         or args.templates != 'vild'):
        parser.error('--pretrained, --quick-gelu and --templates apply without a config only; '
                     'use --clip-weights or --cfg-options with configs')
    return args


def text_heads(cfg: dict, clip=None, where='model'):
    """Yield ``(where, head, clip)`` for every dict of ``cfg`` with ``class_names`` set.

    A head's CLIP is its own ``clip`` or that of the nearest enclosing dict (the segmentor's).
    """
    if not isinstance(cfg, dict):
        return
    clip = cfg.get('clip', clip)
    if cfg.get('class_names') is not None:
        yield where, cfg, clip
    for key, value in cfg.items():
        if isinstance(value, dict):
            yield from text_heads(value, clip, f'{where}.{key}')
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                yield from text_heads(item, clip, f'{where}.{key}[{index}]')


def jobs_of_config(path: str, args) -> list:
    cfg = Config.fromfile(path)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_clip_weight_args(cfg, args)
    jobs = []
    for where, head, clip in text_heads(cfg.model):
        if clip is None:
            raise ValueError(f'{path}: {where} has class_names but no clip=dict(model_name=..., '
                             'pretrained=...) on it or on the segmentor.')
        jobs.append(dict(source=f'{path}: {where}', spec=ClipSpec.from_cfg(dict(clip)),
                         vocabulary=load_vocabulary(head['class_names']),
                         templates=resolve_templates(head.get('templates', 'vild')),
                         cache_dir=args.cache_dir or head.get('text_cache_dir')))
    if not jobs:
        raise ValueError(f'{path} has no head with class_names; nothing to embed.')
    return jobs


def model_job(args) -> dict:
    if args.random_weights:
        pretrained = None
    else:
        pretrained = args.pretrained or args.clip_weights or 'openai'
    return dict(source=f'--model {args.model} --classes {args.classes}',
                spec=ClipSpec(args.model, pretrained, args.quick_gelu),
                vocabulary=load_vocabulary(args.classes),
                templates=resolve_templates(args.templates), cache_dir=args.cache_dir)


def main(argv=None):
    args = parse_args(argv)
    with exit_on_user_error():
        try:
            if args.configs:
                jobs = [job for path in args.configs for job in jobs_of_config(path, args)]
            else:
                if args.random_weights:
                    print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)
                jobs = [model_job(args)]
        except FileNotFoundError as error:  # a missing config or class-name file
            raise ValueError(str(error)) from None
        for job in jobs:  # fail within seconds, before the first (slow) encoding
            check_weights(job['spec'])
        done = {}
        for index, job in enumerate(jobs, 1):
            spec = job['spec']
            path = cache_path(spec, job['vocabulary'], job['templates'], job['cache_dir'])
            print(f"[{index}/{len(jobs)}] {job['source']}", flush=True)
            if path not in done:
                cached = osp.isfile(path)
                start = time.perf_counter()
                embeddings = class_text_embeddings(spec, job['vocabulary'], job['templates'],
                                                   cache_dir=job['cache_dir'], progress=True)
                done[path] = (embeddings, time.perf_counter() - start,
                              'already cached' if cached else 'computed')
                embeddings, seconds, how = done[path]
            else:
                embeddings, seconds, how = done[path][0], 0.0, 'same file as above'
            weights = 'random' if spec.is_random else spec.pretrained
            print(f'  model       {spec.model_name} (weights: {weights})')
            print(f"  classes     {len(job['vocabulary'])} "
                  f"({sum(len(names) for names in job['vocabulary'])} names), "
                  f"{len(job['templates'])} templates -> {tuple(embeddings.shape)}")
            print(f'  cache file  {path}')
            print(f'  time        {seconds:.2f} s ({how})', flush=True)
    if args.random_weights:
        print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
