"""The demo (maskclip.figures, and tools/demo.py end to end through its command line; tiny random
CLIP) and the helpers of maskclip/visualization.py."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import maskclip.figures as figures
from maskclip.clip import ClipWeightsError
from maskclip.figures import DemoOptions, run_demo as demo
from maskclip import visualization as vis
from maskclip.utils import RANDOM_WEIGHTS_BANNER

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'tools', 'demo.py')
OPACITY = 0.3
# what --classes "cat,dog" --background "sky,wall" means
VOCABULARY = [['cat'], ['dog'], ['sky', 'wall']]


def run_demo(args, cache_dir):
    env = dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(cache_dir))
    env.pop('MASKCLIP_CLIP_WEIGHTS', None)
    return subprocess.run([sys.executable, DEMO, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


def structured_rgb(h, w, seed):
    """Blocks of colour plus a gradient, so the prediction is not one class everywhere."""
    rng = np.random.RandomState(seed)
    blocks = rng.randint(0, 256, size=(4, 4, 3))
    rows = np.minimum(np.arange(h) * 4 // h, 3)
    cols = np.minimum(np.arange(w) * 4 // w, 3)
    image = blocks[rows][:, cols].astype(np.float64)
    image += np.linspace(0, 60, w)[None, :, None]
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """One demo call on four kinds of image; returns (result, out_dir, {stem: expected RGB})."""
    root = tmp_path_factory.mktemp('demo')
    expected = {}

    rgb = structured_rgb(50, 70, 1)
    Image.fromarray(rgb).save(root / 'photo.jpg', quality=95)
    expected['photo'] = np.asarray(Image.open(root / 'photo.jpg').convert('RGB'))

    gray = structured_rgb(33, 47, 2)[:, :, 0]
    Image.fromarray(gray, mode='L').save(root / 'gray.png')
    expected['gray'] = np.repeat(gray[:, :, None], 3, axis=2)

    rgba = np.dstack([structured_rgb(64, 64, 3), np.zeros((64, 64), np.uint8)])
    rgba[:, 32:, 3] = 255  # left half fully transparent: composited on white
    Image.fromarray(rgba, mode='RGBA').save(root / 'transparent.png')
    expected['transparent'] = np.where(rgba[:, :, 3:] == 255, rgba[:, :, :3], 255).astype(np.uint8)

    deep = (structured_rgb(40, 30, 4)[:, :, 1].astype(np.uint16) * 257
            + np.arange(30, dtype=np.uint16)[None, :] * 3)  # uses the low byte too
    Image.fromarray(deep).save(root / 'deep16.png')
    assert Image.open(root / 'deep16.png').mode.startswith('I')  # really a 16-bit PNG
    expected['deep16'] = np.repeat(np.round(deep / 257).astype(np.uint8)[:, :, None], 3, axis=2)

    paths = [str(root / name) for name in
             ('photo.jpg', 'gray.png', 'transparent.png', 'deep16.png')]
    out_dir = root / 'out'
    result = run_demo([*paths, '--model', TINY_VIT, '--random-weights', '--classes', 'cat,dog',
                       '--background', 'sky,wall', '--opacity', str(OPACITY),
                       '--out-dir', str(out_dir)], root / 'cache')
    return result, out_dir, expected


def read_png(path):
    return np.asarray(Image.open(path).convert('RGB'))


def test_demo_writes_three_pngs_per_image(demo_run):
    result, out_dir, expected = demo_run
    assert result.returncode == 0, result.stderr
    assert RANDOM_WEIGHTS_BANNER in result.stderr
    for stem, image in expected.items():
        for kind in ('mask', 'overlay', 'legend'):
            assert (out_dir / f'{stem}_{kind}.png').is_file(), (stem, kind)
        assert Image.open(out_dir / f'{stem}_mask.png').size == image.shape[1::-1]
        assert Image.open(out_dir / f'{stem}_overlay.png').size == image.shape[1::-1]
        assert stem in result.stdout
    assert 'background (sky, wall)' in result.stdout


def test_demo_mask_uses_palette_and_overlay_is_the_blend(demo_run):
    result, out_dir, expected = demo_run
    assert result.returncode == 0, result.stderr
    allowed = {tuple(c) for c in vis.palette(3)}
    for stem, image in expected.items():
        mask = read_png(out_dir / f'{stem}_mask.png')
        assert {tuple(c) for c in mask.reshape(-1, 3)} <= allowed, stem
        want = np.round((1 - OPACITY) * image.astype(np.float64) + OPACITY * mask).astype(np.uint8)
        np.testing.assert_array_equal(read_png(out_dir / f'{stem}_overlay.png'), want,
                                      err_msg=stem)


def test_demo_mask_is_the_segmenter_prediction(demo_run):
    import maskclip
    result, out_dir, expected = demo_run
    assert result.returncode == 0, result.stderr
    segmenter = maskclip.create_segmenter(TINY_VIT, pretrained=None, classes=VOCABULARY)
    colours = vis.palette(3)
    seen_classes = set()
    for stem, image in expected.items():
        labels = segmenter.predict(image).numpy()
        seen_classes.update(np.unique(labels).tolist())
        np.testing.assert_array_equal(read_png(out_dir / f'{stem}_mask.png'),
                                      vis.colorize(labels, colours), err_msg=stem)
        shares = ', '.join(f'{name} {100 * f:.1f}%' for name, f in sorted(
            zip(('cat', 'dog', 'background (sky, wall)'), vis.class_fractions(labels, 3)),
            key=lambda item: -item[1]) if f > 0)
        assert shares in result.stdout
    assert len(seen_classes) > 1  # the comparison is not trivially one colour everywhere


def test_demo_garbage_image_exits_2_naming_the_file(tmp_path):
    bad = tmp_path / 'x.png'
    bad.write_bytes(b'this is not a png at all' * 10)
    result = run_demo([str(bad), '--model', TINY_VIT, '--random-weights', '--classes', 'cat'],
                      tmp_path / 'cache')
    assert result.returncode == 2
    assert str(bad) in result.stderr and 'PNG' in result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('classes, message', [
    ('cat,,dog', 'empty name'),
    ('cat,cat', "'cat' appears"),
    ('cat,sky', "'sky' appears"),  # clashes with a background word
])
def test_demo_bad_class_names_are_refused(tmp_path, classes, message):
    image = tmp_path / 'a.png'
    Image.fromarray(structured_rgb(8, 8, 0)).save(image)
    with pytest.raises(ValueError, match=message):
        demo(DemoOptions([str(image)], classes, 'sky,wall', model=TINY_VIT, random_weights=True,
                         out_dir=str(tmp_path / 'out')))
    assert not (tmp_path / 'out').exists()


def test_demo_missing_image_and_weights_are_refused(tmp_path):
    missing = str(tmp_path / 'nowhere.jpg')
    with pytest.raises(ValueError, match=f'Image not found: {missing}'):
        demo(DemoOptions([missing], 'cat', model=TINY_VIT, random_weights=True))

    image = str(tmp_path / 'a.png')
    Image.fromarray(structured_rgb(8, 8, 0)).save(image)
    weights = str(tmp_path / 'no_such_weights.pt')
    with pytest.raises(ClipWeightsError, match=weights):
        demo(DemoOptions([image], 'cat', model=TINY_VIT, clip_weights=weights))
    with pytest.raises(ValueError, match='not both'):
        DemoOptions([image], 'cat', clip_weights=weights, random_weights=True)
    with pytest.raises(ValueError, match=r'\[0, 1\], got 1.5'):
        DemoOptions([image], 'cat', random_weights=True, opacity=1.5)
    with pytest.raises(ValueError, match='--classes is required'):
        DemoOptions([image])


def test_demo_tool_turns_bad_input_into_exit_2(tmp_path):
    image = tmp_path / 'a.png'
    Image.fromarray(structured_rgb(8, 8, 0)).save(image)
    result = run_demo([str(image), '--random-weights', '--classes', 'cat', '--opacity', '1.5'],
                      tmp_path / 'cache')
    assert result.returncode == 2 and 'ERROR: --opacity must lie in [0, 1]' in result.stderr
    assert 'Traceback' not in result.stderr


def test_build_vocabulary_from_list_file_and_background(tmp_path):
    vocabulary, names = figures.build_vocabulary(' cat , dog ', 'sky, wall,floor')
    assert vocabulary == (('cat',), ('dog',), ('sky', 'wall', 'floor'))
    assert names == ['cat', 'dog', 'background (sky, wall, floor)']
    class_file = tmp_path / 'classes.txt'
    class_file.write_text('# my classes\nperson, people\n\ncar\n')
    vocabulary, names = figures.build_vocabulary(str(class_file))
    assert vocabulary == (('person', 'people'), ('car',))
    assert names == ['person', 'car']
    assert figures.output_stems(['a/x.jpg', 'b/x.png', 'y.jpg', 'c/x.jpg']) == \
        ['x', 'x_2', 'y', 'x_3']


# --------------------------------------------------------------------- --figure / --grid

SAMPLES = osp.join(ROOT, 'data', 'sample_scenes')
SAMPLE_IMAGES = [osp.join(SAMPLES, 'img_dir', 'val', f'scene_00{i}.jpg') for i in (0, 1)]
SAMPLE_GT = [osp.join(SAMPLES, 'ann_dir', 'val', f'scene_00{i}.png') for i in (0, 1)]
SAMPLE_CLASSES = osp.join(SAMPLES, 'classes.txt')
BACKGROUND = 'wall,floor'
PANEL_PX = round(vis.PANEL_WIDTH * vis.FIGURE_DPI)
FIGURE_TITLES = ['MaskCLIP', 'MaskCLIP + KS + PD', 'MaskCLIP+', 'Ground truth']
PLUS_CONFIG = osp.join('configs', 'maskclip_plus',
                       'maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')
# the shipped MaskCLIP+ config with a tiny CLIP teacher and a ResNet-18 student, tested at short
# side 64 (its SyncBN and ImageNet init_cfg stay: the demo must cope with both)
TINY_PLUS = """
_base_ = [{config!r}]
model = dict(
    teacher=dict(clip=dict(model_name={tiny!r}), decode_head=dict(templates='single')),
    text_classifier=dict(templates='single'),
    backbone=dict(depth=18), decode_head=dict(in_channels=512, channels=32))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'), dict(type='Resize', scale=(4096, 64), keep_ratio=True),
    dict(type='LoadAnnotations'), dict(type='PackSegInputs')]))
"""
TINY_DISTILL = """
_base_ = [{config!r}]
model = dict(teacher=dict(clip=dict(model_name={tiny!r}),
                          decode_head=dict(class_names={classes!r}, templates='single')))
"""


def sample_vocabulary():
    return figures.build_vocabulary(SAMPLE_CLASSES, BACKGROUND)


def build_plus_model(config, vocabulary):
    """The MaskCLIP+ model of ``config`` with random CLIPs and the demo's classes, for inference."""
    from mmengine.config import Config
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    from maskclip.utils import clip_cfgs_of
    cfg = Config.fromfile(config)
    cfg.model.text_classifier.class_names = [list(names) for names in vocabulary]
    for clip in clip_cfgs_of(cfg.model):
        clip['pretrained'] = None
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
    cfg.test_pipeline = cfg.test_dataloader.dataset.pipeline  # for mmseg.apis.inference_model
    model.cfg = cfg
    return revert_sync_batchnorm(model).eval()


@pytest.fixture(scope='module')
def figure_run(tmp_path_factory):
    """One in-process demo call with every figure option; the figures it saved are recorded."""
    import torch
    root = tmp_path_factory.mktemp('figure')
    config = root / 'tiny_plus.py'
    config.write_text(TINY_PLUS.format(config=osp.join(ROOT, PLUS_CONFIG), tiny=TINY_VIT))
    vocabulary, names = sample_vocabulary()
    model = build_plus_model(str(config), vocabulary)
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():  # weights no fresh build has: the panel shows the checkpoint's
        for param in model.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
    checkpoint = root / 'plus.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)

    saved = {}
    save_figure = vis.save_figure

    def recording_save(figure, path):
        saved[osp.basename(path)] = figure
        save_figure(figure, path)

    out_dir = root / 'out'
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vis, 'save_figure', recording_save)
        demo(DemoOptions(SAMPLE_IMAGES, SAMPLE_CLASSES, BACKGROUND, model=TINY_VIT,
                         random_weights=True, templates='single', figure=True, grid=True,
                         gt=SAMPLE_GT, config=str(config), checkpoint=str(checkpoint),
                         out_dir=str(out_dir)))
    return dict(figures=saved, out_dir=out_dir, model=model, names=names,
                vocabulary=vocabulary)


def panel_arrays(figure):
    return [np.asarray(axes.get_images()[0].get_array()) for axes in figure.axes]


def test_figure_panels_are_the_image_the_masks_and_the_ground_truth(figure_run):
    import maskclip
    out_dir, figures = figure_run['out_dir'], figure_run['figures']
    colours = vis.palette(len(figure_run['names']))
    refined = maskclip.create_segmenter(TINY_VIT, pretrained=None, templates='single',
                                        classes=figure_run['vocabulary'], key_smoothing=True,
                                        prompt_denoising=True)
    for image_path, gt_path in zip(SAMPLE_IMAGES, SAMPLE_GT):
        stem = osp.splitext(osp.basename(image_path))[0]
        png = Image.open(out_dir / f'{stem}_figure.png')
        assert png.width == 5 * PANEL_PX  # five panels side by side
        for kind in ('mask', 'overlay', 'legend'):  # the per-image outputs are still written
            assert (out_dir / f'{stem}_{kind}.png').is_file()
        figure = figures[f'{stem}_figure.png']
        assert [axes.get_title() for axes in figure.axes] == [osp.basename(image_path),
                                                               *FIGURE_TITLES]
        image, plain, ks_pd, _, gt = panel_arrays(figure)
        rgb = vis.load_rgb(image_path)
        np.testing.assert_array_equal(image, rgb)
        np.testing.assert_array_equal(plain, read_png(out_dir / f'{stem}_mask.png'))
        np.testing.assert_array_equal(ks_pd, vis.colorize(refined.predict(rgb).numpy(), colours))
        np.testing.assert_array_equal(gt, vis.colorize(vis.read_label_map(gt_path), colours))


def test_figure_model_panel_is_the_checkpoint_prediction(figure_run):
    from mmengine.registry import DefaultScope
    from mmseg.apis import inference_model
    colours = vis.palette(len(figure_run['names']))
    for image_path in SAMPLE_IMAGES:
        stem = osp.splitext(osp.basename(image_path))[0]
        panel = panel_arrays(figure_run['figures'][f'{stem}_figure.png'])[3]
        bgr = vis.load_rgb(image_path)[:, :, ::-1].copy()  # mmseg reads BGR (the test resizes)
        with DefaultScope.overwrite_default_scope('mmseg'):
            result = inference_model(figure_run['model'], bgr)
        labels = result.pred_sem_seg.data[0].numpy()
        assert labels.shape == bgr.shape[:2]
        assert len(np.unique(labels)) > 1
        np.testing.assert_array_equal(panel, vis.colorize(labels, colours))


def test_figure_legend_shows_the_background_words(figure_run):
    names = figure_run['names']
    assert names[-1] == 'background (wall, floor)'
    for figure in figure_run['figures'].values():
        (legend,) = figure.legends
        assert [text.get_text() for text in legend.get_texts()] == names  # 9 classes: all


def test_grid_has_a_row_per_image(figure_run):
    out_dir, figures = figure_run['out_dir'], figure_run['figures']
    grid = figures['figure_grid.png']
    assert len(grid.axes) == 2 * 5
    rows = [panel_arrays(figures[f'scene_00{i}_figure.png']) for i in (0, 1)]
    for got, want in zip(panel_arrays(grid), rows[0] + rows[1]):
        np.testing.assert_array_equal(got, want)
    png = Image.open(out_dir / 'figure_grid.png')
    single = Image.open(out_dir / 'scene_000_figure.png')
    assert png.width == single.width and png.height > 1.6 * single.height


def test_draw_figure_width_grows_with_panels_and_legend_keeps_present_classes(tmp_path):
    colours = vis.palette(30)
    names = [f'class {i}' for i in range(30)]
    labels = np.zeros((20, 30), np.int64)
    labels[:, 10:] = 7
    gt = labels.copy()
    gt[:5] = vis.IGNORE_INDEX
    image = vis.Panel('image', np.zeros((20, 30, 3), np.uint8))
    widths = []
    for count in (1, 2, 3):
        panels = [image] + [vis.label_panel(f'p{i}', labels, colours) for i in range(count)]
        figure = vis.draw_figure([panels], names, colours)
        assert len(figure.axes) == count + 1
        vis.save_figure(figure, str(tmp_path / f'{count}.png'))
        widths.append(Image.open(tmp_path / f'{count}.png').width)
    assert widths == [2 * PANEL_PX, 3 * PANEL_PX, 4 * PANEL_PX]
    figure = vis.draw_figure([[vis.label_panel('gt', gt, colours, vis.IGNORE_INDEX)]],
                             names, colours)
    texts = [text.get_text() for text in figure.legends[0].get_texts()]
    assert texts == ['class 0', 'class 7', 'unlabelled']  # 30 classes: only those present
    np.testing.assert_array_equal(np.asarray(figure.axes[0].get_images()[0].get_array())[0, 0],
                                  vis.IGNORE_COLOUR)
    few = vis.legend_entries(names[:3], colours, [labels[:, :5]])
    assert [name for name, _ in few] == names[:3]  # a short vocabulary: every class


def test_label_map_checks(tmp_path):
    path = tmp_path / 'gt.png'
    Image.fromarray(np.array([[0, 1], [255, 2]], np.uint8)).save(path)
    labels = vis.read_label_map(str(path))
    vis.check_label_map(labels, 3, (2, 2, 3), str(path))
    with pytest.raises(ValueError, match=r'2x2 pixels but its image is 3x2'):
        vis.check_label_map(labels, 3, (2, 3, 3), str(path))
    with pytest.raises(ValueError, match=r'label values \[2\].*2 classes'):
        vis.check_label_map(labels, 2, (2, 2, 3), str(path))
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='single-channel'):
        vis.read_label_map(str(tmp_path / 'rgb.png'))


def figure_error(tmp_path, images, classes, **options):
    """The message of the error the demo raises for these options (nothing written)."""
    with pytest.raises((ValueError, ClipWeightsError)) as error:
        demo(DemoOptions(images, classes, model=TINY_VIT, random_weights=True,
                         out_dir=str(tmp_path / 'out'), **options))
    return str(error.value)


def test_figure_option_errors(tmp_path):
    image, gt = SAMPLE_IMAGES[0], SAMPLE_GT[0]
    err = figure_error(tmp_path, [image], 'a', figure=True, checkpoint=str(tmp_path / 'x.pth'))
    assert '--checkpoint needs --config' in err
    err = figure_error(tmp_path, [image], 'a', figure=True, config=str(tmp_path / 'x.py'))
    assert '--config needs --checkpoint' in err
    err = figure_error(tmp_path, [image], 'a', gt=[gt])
    assert '--figure / --grid' in err
    err = figure_error(tmp_path, SAMPLE_IMAGES, 'a', figure=True, gt=[gt])
    assert 'one label map per image' in err
    small = tmp_path / 'small.png'
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(small)
    err = figure_error(tmp_path, [image], SAMPLE_CLASSES, figure=True, gt=[str(small)])
    assert f'{small} is 32x24 pixels but its image is 320x240' in err
    err = figure_error(tmp_path, [image], 'a,b', figure=True, gt=[gt])
    assert 'label values' in err and gt in err
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not an image' * 8)
    err = figure_error(tmp_path, [str(bad)], 'a', figure=True)
    assert str(bad) in err and 'supported formats' in err
    err = figure_error(tmp_path, [image], 'a', figure=True, gt=[str(bad)])
    assert str(bad) in err
    err = figure_error(tmp_path, [image], 'a', figure=True, config=osp.join(ROOT, PLUS_CONFIG),
                       checkpoint=str(bad))
    assert 'Cannot read the checkpoint' in err and str(bad) in err
    assert not (tmp_path / 'out').exists()


def test_distilled_reclip_allows_only_its_own_classes(tmp_path):
    config = tmp_path / 'tiny_distill.py'
    base = osp.join(ROOT, 'configs', 'reclip',
                    'reclip-distillation_vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py')
    config.write_text(TINY_DISTILL.format(config=base, tiny=TINY_VIT, classes=SAMPLE_CLASSES))
    checkpoint = tmp_path / 'distilled.pth'
    checkpoint.write_bytes(b'')  # the classes are checked before the checkpoint is read
    err = figure_error(tmp_path, [SAMPLE_IMAGES[0]], 'cat,dog', figure=True, config=str(config),
                       checkpoint=str(checkpoint))
    assert 'fixed per class' in err and 'sky, water, sand' in err and 'cat, dog' in err
    from mmengine.config import Config
    cfg = Config.fromfile(str(config))
    vocabulary, names = figures.build_vocabulary(None, default=figures.config_vocabulary(cfg, config))
    figures.check_fixed_vocabulary(cfg, config, vocabulary)  # no --classes: the config's, accepted
    assert names[:2] == ['sky', 'water']
    with pytest.raises(ValueError, match='fixed per class'):
        figures.check_fixed_vocabulary(cfg, config, figures.build_vocabulary(None, 'wall', vocabulary)[0])


# --------------------------------------------------------------------- maskclip.visualization

def test_palette_is_fixed_distinct_and_extends():
    colours = vis.palette(60)
    assert colours.shape == (60, 3) and colours.dtype == np.uint8
    np.testing.assert_array_equal(colours[:len(vis.BASE_PALETTE)], np.array(vis.BASE_PALETTE))
    assert len({tuple(c) for c in colours}) == 60
    np.testing.assert_array_equal(vis.palette(60), colours)
    np.testing.assert_array_equal(vis.palette(3), colours[:3])
    assert vis.palette(0).shape == (0, 3)


def test_colorize_maps_index_to_palette_entry():
    colours = vis.palette(5)
    labels = np.array([[0, 1, 2], [4, 3, 0]])
    out = vis.colorize(labels, colours)
    assert out.shape == (2, 3, 3) and out.dtype == np.uint8
    for (y, x), label in np.ndenumerate(labels):
        np.testing.assert_array_equal(out[y, x], colours[label])
    with pytest.raises(ValueError, match='outside'):
        vis.colorize(np.array([[5]]), colours)
    with pytest.raises(ValueError, match='label map'):
        vis.colorize(np.zeros((2, 2, 1), int), colours)


def test_overlay_formula():
    image = np.array([[[0, 100, 255]]], np.uint8)
    mask = np.array([[[255, 0, 10]]], np.uint8)
    np.testing.assert_array_equal(vis.overlay(image, mask, 0.0), image)
    np.testing.assert_array_equal(vis.overlay(image, mask, 1.0), mask)
    np.testing.assert_array_equal(vis.overlay(image, mask, 0.25),
                                  [[[64, 75, 194]]])  # 0.75*img + 0.25*mask, rounded
    with pytest.raises(ValueError):
        vis.overlay(image, mask, 1.5)
    with pytest.raises(ValueError):
        vis.overlay(image, np.zeros((2, 1, 3), np.uint8))


def test_class_fractions():
    fractions = vis.class_fractions(np.array([[0, 0, 2], [2, 2, 2]]), 4)
    np.testing.assert_allclose(fractions, [2 / 6, 0, 4 / 6, 0])


def test_legend_lists_present_classes_first_and_greys_absent():
    colours = vis.palette(3)
    names = ['cat', 'dog', 'a much longer class name']
    legend = vis.draw_legend(names, colours, fractions=[0.25, 0.0, 0.75])
    short = vis.draw_legend(names[:2], colours[:2], fractions=[1.0, 0.0])
    assert legend.ndim == 3 and legend.shape[2] == 3
    assert legend.shape[0] > short.shape[0] and legend.shape[1] > short.shape[1]
    # rows: class 2 (75%), class 0 (25%), class 1 (absent); swatch centres hold their colours
    font_size = 14
    pad, swatch, row_h = 8, font_size + 4, font_size + 10
    for row, cls in enumerate([2, 0, 1]):
        centre = legend[pad + row * row_h + swatch // 2, pad + swatch // 2]
        np.testing.assert_array_equal(centre, colours[cls])
    text = legend[:, pad + swatch + pad:]
    last_row = text[pad + 2 * row_h: pad + 2 * row_h + swatch]
    first_row = text[pad: pad + swatch]
    assert first_row.min() < 60  # black text
    assert last_row.min() >= min(vis.ABSENT_TEXT) - 5  # grey text only


@pytest.mark.parametrize('mode', ['I;16', 'LA', 'P', 'F', '1', 'CMYK'])
def test_to_rgb_handles_image_modes(mode):
    if mode == 'I;16':
        image = Image.fromarray(np.array([[0, 257 * 100, 65535]], np.uint16))
        want = [[0, 100, 255]]
    elif mode == 'LA':
        image = Image.fromarray(np.array([[[10, 255], [10, 0]]], np.uint8), mode='LA')
        want = [[10, 255]]
    elif mode == 'P':
        image = Image.new('P', (2, 1))
        image.putpalette([20, 20, 20, 40, 40, 40] + [0] * 762)
        image.putpixel((1, 0), 1)
        image.info['transparency'] = 1
        want = [[20, 255]]
    elif mode == 'F':
        image = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
        want = [[0, 128, 255]]
    elif mode == '1':
        image = Image.fromarray(np.array([[0, 255]], np.uint8)).convert('1')
        want = [[0, 255]]
    else:
        image = Image.new('CMYK', (1, 1), (0, 0, 0, 0))
        want = [[255]]
    rgb = vis.to_rgb(image)
    assert rgb.dtype == np.uint8 and rgb.shape == (*np.shape(want), 3)
    np.testing.assert_array_equal(rgb, np.repeat(np.array(want, np.uint8)[..., None], 3, axis=2))


def test_load_rgb_errors_name_the_file(tmp_path):
    with pytest.raises(ValueError, match='not found'):
        vis.load_rgb(str(tmp_path / 'missing.png'))
    bad = tmp_path / 'x.png'
    bad.write_bytes(b'\x89PNG\r\n\x1a\n' + b'\x00' * 40)  # a PNG signature, then garbage
    with pytest.raises(ValueError, match='x.png') as error:
        vis.load_rgb(str(bad))
    assert 'supported formats' in str(error.value)
    with pytest.raises(ValueError, match='directory'):
        vis.check_image(str(tmp_path))
