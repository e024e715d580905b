"""Side-by-side speed measurements (random weights: the cost does not depend on them).

    python tools/benchmark.py [--model ViT-B-16] [--size 448] [--batch 1] [--repeats 20]
        [--modes maskclip baseline sclip clearclip naclip] [--head] [--device cpu] [--threads N]
        The dense forward of each last-block mode against open_clip's ``encode_image`` at the
        same resolution (sclip, clearclip and naclip need a ViT).
    python tools/benchmark.py --train-step CONFIG [--size 512] [--batch 2] [--cfg-options ...]
        One training step of a teacher-student config (MaskCLIP+, ReCLIP distillation) against a
        student-only step (the same network on ground-truth labels, no teacher). For ReCLIP
        (a distillation config or a two-stage config) the rectification step (its teacher
        training the Reference context and the PE net) is timed on the same batch too.
    python tools/benchmark.py --eval CONFIG [--size 336] [--batch 1] [--cfg-options ...]
        A config's test-time predict on 4:3 inputs of short side --size: the authors' loop
        (fp32, batch 1, one sliding window at a time, open_clip's blocks) against ours (the
        windows batched, ``test_cfg.window_batch_size``, the encoder's fused blocks and the
        config's precision on a GPU), with images per second.

The paths run interleaved repeat by repeat, so that machine drift hits all alike; the table
gives median milliseconds and the ratio to the first row.
"""
import argparse
import os.path as osp
import statistics
import tempfile
import time

import open_clip
import torch
from mmengine.config import Config, DictAction
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmengine.structures import PixelData

from maskclip.clip import load_clip
from maskclip.models import MaskClipHead
from maskclip.models.builder import encoder_type
from maskclip.models.segmentors.sliding import WINDOW_BATCH_SIZE
from maskclip.utils import clip_cfgs_of
from maskclip.utils.cpu_memory import keep_freed_memory
from maskclip.utils.profiling import peak_memory, sync
from maskclip.models.backbones import (MaskClipResNet, MaskClipViT,
                                       resize_pos_embed)
from maskclip.models.backbones.base import MODES


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default='ViT-B-16', help='open_clip model name')
    parser.add_argument('--size', type=int, default=448, help='square input size in pixels')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--modes', nargs='+', default=['maskclip'],
                        choices=list(MODES),
                        help='last-block modes to time (sclip, clearclip, naclip: ViT only)')
    parser.add_argument('--head', action='store_true',
                        help='also time backbone + head (59 classes, with KS and PD)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--train-step', metavar='CONFIG',
                        help='time a training step of this teacher-student config instead')
    parser.add_argument('--eval', metavar='CONFIG',
                        help="time a config's test-time predict instead: the authors' loop "
                        '(fp32, one window at a time) vs ours, on 4:3 inputs of short side --size')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='config overrides for --train-step / --eval')
    return parser.parse_args(argv)


def reference_encoder(model_name: str, size: int, clip: torch.nn.Module) -> torch.nn.Module:
    """open_clip's image tower built natively at ``size`` with ``clip``'s weights.

    Its positional embedding is resized once here, so ``encode_image`` runs natively at ``size``.
    """
    model = open_clip.create_model(model_name, pretrained=None, force_image_size=size)
    state = clip.state_dict()
    target = model.state_dict()
    for key, value in state.items():  # ViT and ResNet attention-pool positional embeddings
        if key.endswith('positional_embedding') and value.shape != target[key].shape:
            side, new_side = int((len(value) - 1) ** 0.5), int((len(target[key]) - 1) ** 0.5)
            grid = value[1:].T.reshape(1, -1, side, side)
            grid = resize_pos_embed(grid, (new_side, new_side))
            state[key] = torch.cat([value[:1], grid.flatten(2)[0].T])
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


def time_interleaved(fns: dict, x: torch.Tensor, repeats: int, warmup: int, device,
                     grad: bool = False) -> dict:
    """Median seconds of each function, running them in turn each repeat."""
    with torch.set_grad_enabled(grad):
        return _time_interleaved(fns, x, repeats, warmup, device)


def _time_interleaved(fns, x, repeats, warmup, device):
    for _ in range(warmup):
        for fn in fns.values():
            fn(x)
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn(x)
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def encoder_paths(args) -> dict:
    """open_clip's encode_image and our dense forwards on one random-weight CLIP."""
    clip = load_clip(args.model, None)
    reference = reference_encoder(args.model, args.size, clip).to(args.device)
    encoder_cls = MaskClipResNet if encoder_type(args.model) == 'MaskClipResNet' else MaskClipViT
    fns = {'open_clip encode_image': reference.encode_image}
    for mode in args.modes:
        encoder = encoder_cls(dict(model_name=args.model, pretrained=None), mode=mode)
        fns[f'ours, {mode} dense forward'] = encoder.to(args.device)
        if args.head:
            head = MaskClipHead(class_names='pascal_context_59', templates='single',
                                clip=dict(model_name=args.model, pretrained=None),
                                key_smoothing=True, prompt_denoising=True).to(args.device)
            fns[f'ours, {mode} + head (59 classes, KS+PD)'] = \
                lambda x, e=encoder, h=head: h(e(x))
    return fns


def with_random_clip_weights(cfg: Config) -> None:
    """Random CLIP weights (the cost does not depend on them) in the architecture the
    configured weights would give: OpenAI's tags use QuickGELU."""
    for clip in clip_cfgs_of(cfg.model):
        if clip.get('quick_gelu') is None:
            clip['quick_gelu'] = str(clip.get('pretrained')).lower() == 'openai'
        clip['pretrained'] = None


def student_config(path: str) -> Config:
    """The config whose model has a teacher: the last stage of a multi-stage config."""
    cfg = Config.fromfile(path)
    if 'stages' in cfg:
        from maskclip.stages import read_stages
        cfg = Config.fromfile(read_stages(cfg)[-1].config)
    return cfg


def with_random_teacher_checkpoint(cfg, directory: str):
    """ReCLIP distillation needs a rectification checkpoint: save a random-weight one.

    Returns the rectification-stage model it came from (trainable as in stage 1)."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        rectification = MODELS.build(cfg.model.teacher)
    path = osp.join(directory, 'random_rectification.pth')
    torch.save(dict(state_dict=rectification.state_dict()), path)
    cfg.model.teacher_checkpoint = path
    return rectification


def eval_paths(args) -> dict:
    """The test-time predict of a config, the authors' way (fp32, one window at a time, open_clip's
    blocks) and ours (batched windows, fused blocks, the config's precision on a GPU), on one
    random-weight model and the same PASCAL-shaped (4:3) inputs of short side ``--size``."""
    from mmengine.model import revert_sync_batchnorm
    cfg = Config.fromfile(args.eval)
    cfg.merge_from_dict(args.cfg_options)
    with_random_clip_weights(cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = revert_sync_batchnorm(MODELS.build(cfg.model)).to(args.device).eval()
    size = (args.size, round(args.size * 4 / 3))
    metas = [dict(img_shape=size, ori_shape=size, pad_shape=size) for _ in range(args.batch)]
    ours_batch = model.test_cfg.get('window_batch_size', WINDOW_BATCH_SIZE)
    precision = getattr(model, 'precision', 'fp32')

    # the config's fused_blocks of each encoder: ours keeps it, the authors' path turns it off
    configured = {m: m.fused_blocks for m in model.modules() if hasattr(m, 'fused_blocks')}

    def predict(window_batch, authors):
        def run(x):
            kept = getattr(model, 'precision', None)
            model.test_cfg['window_batch_size'] = window_batch
            if authors and kept is not None:
                model.precision = 'fp32'
            for encoder, fused in configured.items():  # the authors': open_clip's own blocks
                encoder.fused_blocks = fused and not authors
            try:
                with torch.no_grad():
                    samples = [SegDataSample(metainfo=m) for m in metas]
                    model.predict(x[:, :, :size[0], :size[1]], samples)
            finally:
                if kept is not None:
                    model.precision = kept
        return run

    mode = model.test_cfg.get('mode', 'whole')
    ours = (f'ours: {ours_batch} windows per pass' if mode == 'slide' else 'ours: whole image')
    if any(e.fuses_blocks for e in configured):
        ours += ', fused blocks'
    if precision != 'fp32' and torch.device(args.device).type == 'cuda':
        ours += f', {precision}'
    return {'authors: fp32, one window per pass': predict(1, True),
            ours: predict(ours_batch, False)}


def train_step_paths(args) -> dict:
    """A teacher-student training step and the same student's plain supervised step."""
    cfg = student_config(args.train_step)
    cfg.merge_from_dict(args.cfg_options)
    with_random_clip_weights(cfg)
    cfg.model.backbone.init_cfg = None
    if not torch.cuda.is_available():
        cfg.model.backbone.norm_cfg = dict(type='BN', requires_grad=True)
    cfg.model.data_preprocessor.size = (args.size, args.size)
    reclip = cfg.model.type == 'ReCLIPDistillSegmentor'
    with tempfile.TemporaryDirectory() as tmp, DefaultScope.overwrite_default_scope('mmseg'):
        if reclip:
            rectification = with_random_teacher_checkpoint(cfg, tmp).to(args.device).train()
        model = MODELS.build(cfg.model).to(args.device)
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    generator = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(args.batch):
        sample = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(
            0, len(model.class_names), (1, args.size, args.size), generator=generator)))
        sample.set_metainfo(dict(img_shape=(args.size, args.size), ori_shape=(args.size,) * 2))
        samples.append(sample)
    images = [torch.randint(0, 256, (3, args.size, args.size), dtype=torch.uint8,
                            generator=generator) for _ in range(args.batch)]

    def step(loss_fn):
        def run(_):
            model.loss = loss_fn
            try:
                model.train_step(dict(inputs=images, data_samples=samples), optim)
            finally:
                del model.loss
        return run

    student_only = EncoderDecoder.loss.__get__(model)
    paths = {'student-only step (ground truth)': step(student_only),
             f'{type(model).__name__} step (teacher labels)': step(type(model).loss.__get__(model))}
    if reclip:
        rect_optim = OptimWrapper(torch.optim.SGD(
            [p for p in rectification.parameters() if p.requires_grad], lr=1e-4))
        paths['ReCLIP rectification step (same batch)'] = lambda _: rectification.train_step(
            dict(inputs=images, data_samples=samples), rect_optim)
    return paths


def main(argv=None):
    args = parse_args(argv)
    if torch.device(args.device).type == 'cpu':
        keep_freed_memory()  # as tools/test.py and tools/train.py do on the CPU
    if args.threads:
        torch.set_num_threads(args.threads)
    fns = (eval_paths(args) if args.eval else
           train_step_paths(args) if args.train_step else encoder_paths(args))
    width = round(args.size * 4 / 3) if args.eval else args.size
    x = torch.randn(args.batch, 3, args.size, width, device=args.device)
    medians = time_interleaved(fns, x, args.repeats, args.warmup, args.device,
                               grad=bool(args.train_step))
    with torch.set_grad_enabled(bool(args.train_step)):
        peaks = {name: peak_memory(fn, x, device=args.device) for name, fn in fns.items()}
    base = next(iter(medians.values()))
    what = args.eval or args.train_step or args.model
    print(f'\n{what} at {args.size}x{width}, batch {args.batch}, {args.device}, '
          f'{torch.get_num_threads()} threads, median of {args.repeats} interleaved repeats')
    print(f"{'path':<46}{'ms':>10}{'ratio':>9}{'peak MiB':>11}")
    for name, seconds in medians.items():
        print(f'{name:<46}{seconds * 1e3:>10.1f}{seconds / base:>8.3f}x{peaks[name]:>11.0f}')
    if args.eval:
        rates = {name: args.batch / seconds for name, seconds in medians.items()}
        (first, a), (second, b) = rates.items()
        print(f'images per second: {a:.2f} ({first}), {b:.2f} ({second}): {b / a:.2f}x')
    return medians


if __name__ == '__main__':
    main()
