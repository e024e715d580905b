"""Command-line plumbing shared by the tools: choosing CLIP weights and reporting user errors."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Iterator

WEIGHTS_ENV = 'MASKCLIP_CLIP_WEIGHTS'
RANDOM_WEIGHTS_BANNER = '\n'.join([
    '!' * 78,
    '!!  RANDOM CLIP WEIGHTS (--random-weights): a smoke run of the pipeline only.',
    '!!  Every number it prints is MEANINGLESS. Supply real weights for results.',
    '!' * 78])


def add_clip_weight_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group('CLIP weights')
    group.add_argument(
        '--clip-weights', default=os.environ.get(WEIGHTS_ENV) or None, metavar='PATH_OR_TAG',
        help='CLIP weights for every CLIP in the config: a local checkpoint file (open_clip state '
             "dict, OpenAI's .pt, or tools/convert_clip_weights.py output) or an open_clip tag. "
             f'Default: ${WEIGHTS_ENV} if set, else what the config says (open_clip tag "openai").')
    group.add_argument(
        '--random-weights', action='store_true',
        help='smoke run with random CLIP weights; the numbers are meaningless')


def clip_cfgs_of(model_cfg: dict) -> Iterator[dict]:
    """Every ``clip=dict(...)`` inside a model config (segmentor, TTA wrapper, backbone, heads)."""
    if not isinstance(model_cfg, dict):
        return
    if isinstance(model_cfg.get('clip'), dict):
        yield model_cfg['clip']
    for value in model_cfg.values():
        if isinstance(value, dict):
            yield from clip_cfgs_of(value)
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from clip_cfgs_of(item)


def conflicting_weights_message(clip_weights: str) -> str:
    """--random-weights together with weights, saying where the weights value came from."""
    if os.environ.get(WEIGHTS_ENV) == clip_weights:
        return (f'--random-weights, but ${WEIGHTS_ENV}={clip_weights} also chooses weights; '
                f'unset {WEIGHTS_ENV} (or drop --random-weights).')
    return 'Give either --clip-weights or --random-weights, not both.'


def apply_clip_weight_args(cfg, args) -> None:
    """Point every CLIP of ``cfg.model`` at ``--clip-weights`` or at random weights."""
    if args.random_weights and args.clip_weights:
        raise ValueError(conflicting_weights_message(args.clip_weights))
    if not (args.random_weights or args.clip_weights):
        return
    value = None if args.random_weights else args.clip_weights
    for clip in clip_cfgs_of(cfg.model):
        clip['pretrained'] = value
    if args.random_weights:
        show_random_weights_banner()


def load_tool_cfg(args):
    """The config as the tools see it: file + ``--cfg-options`` + CLIP weights + work dir."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    apply_clip_weight_args(cfg, args)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or os.path.join(
        './work_dirs', os.path.splitext(os.path.basename(args.config))[0])
    return cfg


def check_clip_weights(model_cfg: dict) -> None:
    """Fail within seconds, before anything is built, if a CLIP of the config has no weights;
    a CLIP set to random weights by the config (``pretrained=None``) rather than by
    ``--random-weights`` gets the same loud banner: its numbers are meaningless too."""
    from maskclip.clip import ClipSpec, check_weights
    random = False
    for clip in clip_cfgs_of(model_cfg):
        spec = ClipSpec.from_cfg(clip)
        check_weights(spec)
        random = random or spec.is_random
    if random and not _BANNER_SHOWN:
        show_random_weights_banner()


_BANNER_SHOWN = False


def show_random_weights_banner() -> None:
    global _BANNER_SHOWN
    _BANNER_SHOWN = True
    print(RANDOM_WEIGHTS_BANNER, file=sys.stderr, flush=True)


@contextlib.contextmanager
def exit_on_user_error():
    """Turn errors about the user's input into one ``ERROR:`` line and exit status 2: weights,
    classes, data layout and option values (``ValueError`` and our own errors), missing files,
    misspelt config keywords or types, images that cannot be read during a run. Other errors
    are bugs and keep their traceback."""
    from maskclip.clip import ClipWeightsError
    from maskclip.datasets import DatasetLayoutError
    try:
        yield
    except (ClipWeightsError, DatasetLayoutError, ValueError) as error:
        _exit(str(error))
    except FileNotFoundError as error:
        name = error.filename or str(error)
        _exit(f'{name} does not exist ({error.strerror or error}). Check the path; for data '
              'files, python tools/check_dataset.py CONFIG lists every missing one.')
    except TypeError as error:
        if 'unexpected keyword argument' not in str(error):
            raise
        _exit(f'{error}. Check the spelling of that option in the config or --cfg-options.')
    except KeyError as error:
        text = str(error.args[0]) if error.args else str(error)
        if 'registry' not in text:
            raise
        _exit(f'{text}. Check the spelling of the type in the config (and that custom_imports '
              'lists the package that registers it).')
    except AssertionError as error:  # mmcv's image loading, also from a DataLoader worker
        import re
        found = re.findall(r'failed to load image: [^\n{]+', str(error))  # not the code line
        if not found:
            raise
        _exit(f'{found[-1]}: the file is damaged or not an image; python '
              'tools/check_dataset.py CONFIG finds every such file.')
    except Exception as error:
        if type(error).__module__ != 'cv2' and 'cv2.error' not in str(error):
            raise
        _exit(f'OpenCV refused an image operation: {str(error).strip().splitlines()[-1]}. '
              'Check the sizes in the pipeline (Resize scale, crop_size): they must be positive.')


def _exit(message: str) -> None:
    print(f'\nERROR: {message}', file=sys.stderr)
    raise SystemExit(2) from None
