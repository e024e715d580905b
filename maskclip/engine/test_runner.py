"""The test run of a config, as tools/test.py, tools/eval_all.py and tools/robustness.py do it:
the config with the command line's options applied, then a Runner built after the checks that
fail in seconds (CLIP weights, dataset layout)."""
from __future__ import annotations

from types import SimpleNamespace

from mmengine.runner import Runner

from maskclip.datasets import check_dataset_layout
from maskclip.datasets.check import check_test_data
from maskclip.engine.checkpoint_files import check_checkpoint_fits
from maskclip.utils import check_clip_weights, init_cpu_process_group, load_tool_cfg
from maskclip.utils.cpu_memory import keep_freed_memory_on_cpu
from maskclip.utils.runtime import adapt_cfg_to_machine


def enable_visualization(cfg, args) -> None:
    """``--show`` / ``--show-dir``: draw every prediction through the visualization hook."""
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit('The config has no default_hooks.visualization; --show/--show-dir '
                         'need it.')
    hook['draw'] = True
    if getattr(args, 'show', False):
        hook['show'] = True
        hook['wait_time'] = getattr(args, 'wait_time', 2)
    if getattr(args, 'show_dir', None):
        cfg.visualizer['save_dir'] = args.show_dir
        hook['interval'] = 1


def test_options(config: str, **options) -> SimpleNamespace:
    """tools/test.py's options for ``config`` with its defaults, ``options`` changed (for
    scripts and tests that run a test without the command line)."""
    defaults = dict(checkpoint=None, work_dir=None, cfg_options=None, launcher='none',
                    clip_weights=None, random_weights=False, show=False, show_dir=None,
                    wait_time=2, tta=False, out=None)
    unknown = set(options) - set(defaults)
    if unknown:
        raise TypeError(f'Unknown test options {sorted(unknown)}; known: {sorted(defaults)}.')
    return SimpleNamespace(config=config, **dict(defaults, **options))


def run_test(config: str, **options) -> dict:
    """tools/test.py's run of ``config``: its metrics."""
    args = test_options(config, **options)
    return build_test_runner(build_test_cfg(args), args.launcher).test()


def build_test_cfg(args):
    """The config of ``args.config`` for testing. ``args`` holds tools/test.py's options:
    ``config, checkpoint, work_dir, cfg_options, launcher, clip_weights, random_weights, show,
    show_dir, tta, out`` (``wait_time`` optional)."""
    cfg = load_tool_cfg(args)
    check_test_checkpoint(cfg, args.checkpoint)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        missing = [key for key in ('tta_pipeline', 'tta_model') if not cfg.get(key)]
        if missing:
            raise ValueError(f"--tta: {args.config} defines no {' / '.join(missing)}; drop "
                             '--tta, or use a config with test-time augmentation (e.g. the '
                             'maskclip *-ms-* configs).')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    adapt_cfg_to_machine(cfg, args.launcher)  # no CUDA: SyncBN -> BN, DDP without device ids
    # a training config's cudnn_benchmark is for its fixed crops; test images vary in size, and
    # cuDNN would benchmark again for every new shape
    cfg.setdefault('env_cfg', {})['cudnn_benchmark'] = False
    if args.out:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    return cfg


def check_test_checkpoint(cfg, checkpoint) -> None:
    """A model that learns weights (MaskCLIP+, ReCLIP) is evaluated with its checkpoint only:
    without one, the untrained student would give a plausible, meaningless mIoU."""
    from maskclip.inference import TRAINED_MODELS, VOCABULARY_NODES
    model = cfg.model.get('module', cfg.model) if cfg.model.get('type') == 'SegTTAModel' \
        else cfg.model
    kind = model.get('type')
    if checkpoint is None and kind in TRAINED_MODELS and not cfg.get('load_from'):
        raise ValueError(f'{VOCABULARY_NODES[kind][0]} learns weights: give the checkpoint its '
                         'training wrote (python tools/test.py CONFIG work_dirs/<config>/'
                         'iter_N.pth); without it the untrained model would be evaluated.')
    if checkpoint is not None and '://' not in checkpoint:
        import os.path as osp
        if not osp.isfile(checkpoint):
            raise ValueError(f'The checkpoint {checkpoint} does not exist; check the path '
                             '(training writes them to work_dirs/<config>/).')


def build_test_runner(cfg, launcher: str = 'none') -> Runner:
    """The test Runner of ``cfg``, after the checks that fail in seconds (weights, data layout);
    call it inside :func:`maskclip.utils.exit_on_user_error`."""
    check_clip_weights(cfg.model)
    check_dataset_layout(cfg.test_dataloader.dataset)
    check_test_data(cfg.test_dataloader.dataset)  # one listing: not empty, labels fit
    keep_freed_memory_on_cpu()
    init_cpu_process_group(launcher)
    runner = Runner.from_cfg(cfg)
    if cfg.get('load_from'):
        check_checkpoint_fits(runner.model, cfg.load_from)
    return runner
