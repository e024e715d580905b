"""Segment images with free-form class names and draw the papers' qualitative figures
(tools/demo.py is the command line; what it writes is explained there): MaskCLIP through
:func:`maskclip.create_segmenter`, a trained MaskCLIP+ / ReCLIP model of a config and checkpoint
through :mod:`maskclip.inference`, the ground truth, side by side with a legend.
:class:`DemoOptions` holds what tools/demo.py parses (checked there, for any caller);
:func:`run_demo` is the whole job.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Optional

@dataclass
class DemoOptions:
    """What to segment and draw: ``images`` into ``classes`` (names separated by commas, or a
    class-name file; default with ``config``: its classes) plus one ``background`` class of
    stuff words, with the CLIP ``model``; the PNGs go to ``out_dir``. ``figure`` / ``grid`` add
    the papers' comparison panels: MaskCLIP, MaskCLIP + KS + PD, the trained model of ``config``
    and ``checkpoint``, the ground truth ``gt`` (one label map per image). Images longer than
    ``max_size`` pixels are segmented resized to it (0 / None: native size; see
    :class:`maskclip.apis.Segmenter`)."""
    images: List[str]
    classes: Optional[str] = None
    background: Optional[str] = None
    model: str = 'ViT-B-16'
    templates: str = 'vild'
    key_smoothing: bool = False
    prompt_denoising: bool = False
    out_dir: str = osp.join('outputs', 'demo')
    opacity: float = 0.5
    device: str = 'cpu'
    figure: bool = False
    grid: bool = False
    config: Optional[str] = None
    checkpoint: Optional[str] = None
    gt: Optional[List[str]] = None
    clip_weights: Optional[str] = None
    random_weights: bool = False
    max_size: Optional[int] = 1024

    def __post_init__(self):
        if not self.images:
            raise ValueError('No image given: name at least one image file.')
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f'--opacity must lie in [0, 1], got {self.opacity}.')
        if self.templates not in ('vild', 'single'):
            raise ValueError(f"--templates {self.templates}: use 'vild' or 'single'.")
        if self.random_weights and self.clip_weights:
            from maskclip.utils.cli import conflicting_weights_message
            raise ValueError(conflicting_weights_message(self.clip_weights))
        if self.checkpoint and not self.config:
            raise ValueError('--checkpoint needs --config: the config the checkpoint was '
                             'trained with')
        if self.config and not self.checkpoint:
            raise ValueError('--config needs --checkpoint: the trained weights of the model')
        if not (self.figure or self.grid) and (self.config or self.gt):
            raise ValueError('--config, --checkpoint and --gt add panels to --figure / --grid; '
                             'give one')
        if self.gt and len(self.gt) != len(self.images):
            raise ValueError(f'--gt takes one label map per image: {len(self.images)} image(s), '
                             f'{len(self.gt)} label map(s)')
        if self.classes is None and not self.config:
            raise ValueError('--classes is required (class names, or a class-name file)')


def build_vocabulary(classes, background=None, default=None):
    """The validated vocabulary and the names the legend shows (background last, if given).

    ``classes``: comma-separated names, a class-name file, or a built-in vocabulary name
    (``voc21``, as in the configs and the API); None: the vocabulary ``default`` (a config's
    classes). A value that looks like a file path but names no file is refused (it would
    otherwise become one class named after the path).
    """
    from maskclip.text import builtin_vocabularies, load_vocabulary
    if classes is None:
        entries = [list(names) for names in default]
    elif osp.isfile(classes) or classes.strip() in builtin_vocabularies():
        entries = [list(names) for names in load_vocabulary(classes.strip())]
    elif _looks_like_path(classes):
        raise ValueError(f"--classes {classes}: no such class-name file. Give an existing file "
                         '(one class per line), comma-separated names, or a built-in vocabulary '
                         f"({', '.join(builtin_vocabularies())}).")
    else:
        entries = [[name.strip()] for name in classes.split(',')]
    display = [names[0] for names in entries]
    if background is not None:
        words = [word.strip() for word in background.split(',')]
        entries.append(words)
        display.append(f'background ({", ".join(words)})')
    return load_vocabulary(entries), display


def _looks_like_path(text: str) -> bool:
    """A single entry with a folder separator or a text-file suffix."""
    return ',' not in text and ('/' in text or '\\' in text or
                                osp.splitext(text)[1].lower() in ('.txt', '.csv', '.names'))


def output_stems(paths):
    """Output file stems; a repeated stem gets ``_2``, ``_3``, ... so nothing is overwritten."""
    stems, used = [], set()
    for path in paths:
        stem = base = osp.splitext(osp.basename(path))[0]
        n = 1
        while stem in used:
            n += 1
            stem = f'{base}_{n}'
        used.add(stem)
        stems.append(stem)
    return stems


# ------------------------------------------------------------------ the trained model's panel

#: Models ``--config`` may build: the panel's title and where the config keeps the class names.
def trained_models():
    """``{segmentor type: its name}`` of the models with a checkpoint (maskclip.inference)."""
    from maskclip.inference import TRAINED_MODELS, VOCABULARY_NODES
    return {kind: VOCABULARY_NODES[kind][0] for kind in TRAINED_MODELS}


def load_model_cfg(config, checkpoint):
    """The config of ``--config``, after checking both files exist and the model type."""
    from mmengine.config import Config
    for kind, path in (('config', config), ('checkpoint', checkpoint)):
        if not osp.isfile(path):
            raise ValueError(f'The {kind} {path} does not exist.')
    try:
        cfg = Config.fromfile(config)
    except Exception as error:  # a config is Python: any error in it
        raise ValueError(f'Cannot read the config {config}: {error}') from None
    model_type = (cfg.get('model') or {}).get('type')
    if model_type not in trained_models():
        raise ValueError(f'The config {config} builds a {model_type}; the figure\'s model panel '
                         f'takes a MaskCLIP+ or ReCLIP config ({", ".join(trained_models())}).')
    return cfg


def config_vocabulary(cfg, config):
    """The vocabulary the config's model was trained with."""
    from maskclip.inference import vocabulary_node
    from maskclip.text import load_vocabulary
    names = vocabulary_node(cfg.model).get('class_names')
    if names is None:
        raise ValueError(f'The config {config} names no classes; give --classes.')
    return load_vocabulary(names)


def check_fixed_vocabulary(cfg, config, vocabulary):
    """A distilled ReCLIP student's classifier is fixed per class: only its own classes work."""
    from maskclip.text import primary_names
    if (cfg.model.type != 'ReCLIPDistillSegmentor'
            or cfg.model.get('student_head', 'query_reference') == 'query'):
        return  # MaskCLIP+ and the rectified CLIP classify by text embeddings: any classes
    own = list(primary_names(config_vocabulary(cfg, config)))
    wanted = list(primary_names(vocabulary))
    if wanted != own:
        def listed(names, limit=12):
            return ', '.join(names[:limit]) + (f', ... ({len(names)} in all)'
                                               if len(names) > limit else '')
        raise ValueError(
            "A distilled ReCLIP student's classifier is fixed per class (its Reference head, "
            f"student_head='{cfg.model.get('student_head', 'query_reference')}'): the "
            f'checkpoint predicts only the classes of its config {config}, in this order: '
            f'{listed(own)}; the demo was given: {listed(wanted)}. Leave out --classes and '
            '--background to use the config\'s classes.')


def read_checkpoint(path):
    """The checkpoint of ``--checkpoint``, read before any model is built (fails fast)."""
    import pickle

    from mmengine.runner.checkpoint import _load_checkpoint
    try:
        checkpoint = _load_checkpoint(path, map_location='cpu')
    except (RuntimeError, KeyError, EOFError, OSError, ValueError,
            pickle.UnpicklingError) as error:
        raise ValueError(f'Cannot read the checkpoint {path}: {_shorten(error)}') from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f'The checkpoint {path} holds a {type(checkpoint).__name__}, not a '
                         'state dict (or a dict with a "state_dict").')
    return checkpoint


def _shorten(error, limit=300):
    return '; '.join(line if len(line) <= limit else line[:limit] + ' ...'
                     for line in str(error).splitlines() if line.strip())


def build_trained_model(cfg, checkpoint, vocabulary, args, device):
    """``(title, predict)`` of the ``--config`` model given the demo's classes, ``checkpoint``
    (from :func:`read_checkpoint`) loaded; ``predict(rgb)`` -> ``(H, W)`` class indices at the
    image's size."""
    import numpy as np
    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    from mmseg.registry import MODELS

    import reclip  # noqa: F401  (registers the ReCLIP models)
    from maskclip.inference import inference_cfg, inference_pipeline
    from maskclip.utils import check_clip_weights, clip_cfgs_of

    model_cfg = inference_cfg(cfg.model, [list(names) for names in vocabulary])
    if args.random_weights or args.clip_weights:
        for clip in clip_cfgs_of(model_cfg):
            clip['pretrained'] = None if args.random_weights else args.clip_weights
    check_clip_weights(model_cfg)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(model_cfg)
    try:
        _load_checkpoint_to_model(model, checkpoint, strict=True)
    except (RuntimeError, KeyError) as error:
        raise ValueError(f'The checkpoint {args.checkpoint} does not fit the model of '
                         f'{args.config}: {_shorten(error)}') from None
    model = revert_sync_batchnorm(model).to(device).eval()
    pipeline = inference_pipeline(cfg, from_array=True)

    @torch.no_grad()
    def predict(image):
        packed = pipeline(dict(img=np.ascontiguousarray(image[:, :, ::-1])))  # BGR, as mmcv
        result = model.test_step(dict(inputs=[packed['inputs']],
                                      data_samples=[packed['data_samples']]))[0]
        return result.pred_sem_seg.data[0].cpu().numpy()

    return trained_models()[model_cfg.type], predict


# ------------------------------------------------------------------ figure panels

def maskclip_labels(segmenter, image, key_smoothing, prompt_denoising):
    """MaskCLIP's ``(H, W)`` prediction with the refinements switched as asked (one model)."""
    head = segmenter.model.decode_head
    saved = head.key_smoothing, head.prompt_denoising
    head.key_smoothing, head.prompt_denoising = key_smoothing, prompt_denoising
    try:
        return segmenter.predict(image).cpu().numpy()
    finally:
        head.key_smoothing, head.prompt_denoising = saved


def read_ground_truth(images, label_maps, num_classes):
    """The ``--gt`` label maps, checked against their images before anything is computed."""
    from maskclip import visualization as vis
    maps = []
    for image, path in zip(images, label_maps or ()):
        labels = vis.read_label_map(path)
        vis.check_label_map(labels, num_classes, vis.load_rgb(image).shape, path)
        maps.append(labels)
    return maps


def short_title(path, limit=36):
    name = osp.basename(path)
    return name if len(name) <= limit else name[:limit - 3] + '...'


def comparison_panels(path, image, labels, segmenter, args, trained, ground_truth, colours):
    """image | MaskCLIP | MaskCLIP + KS + PD [| trained model] [| ground truth].

    ``labels`` is the prediction with the refinements of the command line (reused).
    """
    from maskclip import visualization as vis

    def maskclip_variant(key_smoothing, prompt_denoising):
        if (key_smoothing, prompt_denoising) == (args.key_smoothing, args.prompt_denoising):
            return labels
        return maskclip_labels(segmenter, image, key_smoothing, prompt_denoising)

    panels = [vis.Panel(short_title(path), image),
              vis.label_panel('MaskCLIP', maskclip_variant(False, False), colours),
              vis.label_panel('MaskCLIP + KS + PD', maskclip_variant(True, True), colours)]
    if trained is not None:
        title, predict = trained
        panels.append(vis.label_panel(title, predict(image), colours))
    if ground_truth is not None:
        panels.append(vis.label_panel('Ground truth', ground_truth, colours, vis.IGNORE_INDEX))
    return panels


def run_demo(args: DemoOptions) -> None:
    """Write every image's mask, overlay and legend (and figures) to ``args.out_dir``."""
    import numpy as np
    import torch
    from PIL import Image

    import maskclip
    from maskclip import visualization as vis
    from maskclip.clip import ClipSpec, check_weights

    trained_cfg = load_model_cfg(args.config, args.checkpoint) if args.config else None
    vocabulary, names = build_vocabulary(
        args.classes, args.background,
        default=config_vocabulary(trained_cfg, args.config) if args.classes is None else None)
    if trained_cfg is not None:
        check_fixed_vocabulary(trained_cfg, args.config, vocabulary)
    for path in args.images:
        vis.check_image(path)
    ground_truth = read_ground_truth(args.images, args.gt, len(vocabulary))
    checkpoint = read_checkpoint(args.checkpoint) if args.checkpoint else None
    pretrained = None if args.random_weights else (args.clip_weights or 'openai')
    check_weights(ClipSpec(args.model, pretrained))
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise ValueError(f'--device {args.device}: CUDA is not available; use --device cpu.')
    segmenter = maskclip.create_segmenter(
        args.model, pretrained=pretrained, classes=vocabulary, templates=args.templates,
        key_smoothing=args.key_smoothing, prompt_denoising=args.prompt_denoising,
        device=device, max_size=args.max_size or None)
    trained = (build_trained_model(trained_cfg, checkpoint, vocabulary, args, device)
               if trained_cfg is not None else None)
    del checkpoint
    colours = vis.palette(len(vocabulary))
    os.makedirs(args.out_dir, exist_ok=True)
    grid_rows = []
    for index, (path, stem) in enumerate(zip(args.images, output_stems(args.images))):
        image = vis.load_rgb(path)
        try:
            labels = segmenter.predict(image).cpu().numpy()
        except ValueError as error:  # e.g. an image smaller than one patch: name the file
            raise ValueError(f'{path}: {error}') from None
        mask = vis.colorize(labels, colours)
        fractions = vis.class_fractions(labels, len(vocabulary))
        outputs = {
            'mask': mask,
            'overlay': vis.overlay(image, mask, args.opacity),
            'legend': vis.draw_legend(names, colours, fractions),
        }
        written = []
        for kind, array in outputs.items():
            out_path = osp.join(args.out_dir, f'{stem}_{kind}.png')
            Image.fromarray(array).save(out_path)
            written.append(out_path)
        if args.figure or args.grid:
            panels = comparison_panels(path, image, labels, segmenter, args, trained,
                                       ground_truth[index] if ground_truth else None,
                                       colours)
            if args.figure:
                out_path = osp.join(args.out_dir, f'{stem}_figure.png')
                vis.save_figure(vis.draw_figure([panels], names, colours), out_path)
                written.append(out_path)
            if args.grid:
                grid_rows.append(panels)
        present = sorted(np.flatnonzero(fractions), key=lambda i: -fractions[i])
        shares = ', '.join(f'{names[i]} {100 * fractions[i]:.1f}%' for i in present)
        print(f'{path} -> {", ".join(written)}\n    {shares}', flush=True)
    if args.grid:
        out_path = osp.join(args.out_dir, 'figure_grid.png')
        vis.save_figure(vis.draw_figure(grid_rows, names, colours), out_path)
        print(f'{len(grid_rows)} image(s) -> {out_path}', flush=True)
