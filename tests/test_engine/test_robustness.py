"""ImageNet-C corruption transform and tools/robustness.py (MaskCLIP paper Sec. 4.1, Table 4)."""
import csv
import os
import os.path as osp
import re
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch

from maskclip.datasets.transforms import CORRUPTIONS, ImageCorruption, with_corruption
from maskclip.datasets.transforms.corruption import image_seed, load_imagecorruptions

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')
SCENE = osp.join(SAMPLE, 'img_dir', 'val', 'scene_000.jpg')


@pytest.fixture(scope='module')
def corrupt():
    return load_imagecorruptions().corrupt


@pytest.fixture(scope='module')
def bgr():
    """A real picture (BGR, as mmcv loads it), cropped small to keep the tests fast."""
    return mmcv.imread(SCENE)[:96, :128].copy()


def apply(transform, img, img_path=None):
    results = dict(img=img.copy())
    if img_path is not None:
        results['img_path'] = img_path
    return transform(results)['img']


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / mse)


@pytest.mark.parametrize('name', ['gaussian_noise', 'impulse_noise', 'gaussian_blur', 'spatter'])
def test_transform_equals_imagecorruptions_on_rgb(name, bgr, corrupt):
    np.random.seed(7)
    expected = corrupt(bgr[..., ::-1].copy(), severity=3, corruption_name=name)[..., ::-1]
    assert np.array_equal(apply(ImageCorruption(name, 3, seed=7), bgr), expected)
    # with a path, the seed is mixed with the file name
    np.random.seed(image_seed(7, SCENE))
    expected = corrupt(bgr[..., ::-1].copy(), severity=3, corruption_name=name)[..., ::-1]
    assert np.array_equal(apply(ImageCorruption(name, 3, seed=7), bgr, SCENE), expected)


def test_every_listed_corruption_runs_at_every_severity(bgr):
    """Covers the compatibility shim (gaussian_blur: skimage dropped ``multichannel``)."""
    img = bgr[:40, :48].copy()
    for name in CORRUPTIONS:
        for severity in range(1, 6):
            out = apply(ImageCorruption(name, severity), img, 'a.jpg')
            assert out.shape == img.shape and out.dtype == np.uint8, (name, severity)
            assert not np.array_equal(out, img), (name, severity)


@pytest.mark.parametrize('name', ['gaussian_noise', 'shot_noise', 'impulse_noise',
                                  'speckle_noise', 'spatter'])
def test_seeded_and_deterministic(name, bgr):
    first = apply(ImageCorruption(name, 2, seed=1), bgr, 'x/a.jpg')
    assert np.array_equal(first, apply(ImageCorruption(name, 2, seed=1), bgr, 'x/a.jpg'))
    assert np.array_equal(first, apply(ImageCorruption(name, 2, seed=1), bgr, '/elsewhere/a.jpg'))
    assert not np.array_equal(first, apply(ImageCorruption(name, 2, seed=2), bgr, 'x/a.jpg'))
    assert not np.array_equal(first, apply(ImageCorruption(name, 2, seed=1), bgr, 'x/b.jpg'))


def test_global_numpy_rng_is_left_alone(bgr):
    np.random.seed(123)
    expected = np.random.rand(3)
    np.random.seed(123)
    apply(ImageCorruption('gaussian_noise', 1), bgr)
    assert np.array_equal(np.random.rand(3), expected)


def test_dataloader_workers_give_the_same_images():
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(with_corruption(dict(
            type='SampleScenesDataset', data_root=SAMPLE,
            data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
            pipeline=[dict(type='LoadImageFromFile')]), 'shot_noise', 4, seed=3))
    assert [type(t).__name__ for t in dataset.pipeline.transforms] == [
        'LoadImageFromFile', 'ImageCorruption']
    direct = [dataset[i]['img'] for i in range(4)]
    subset = torch.utils.data.Subset(dataset, range(4))
    loader = torch.utils.data.DataLoader(subset, batch_size=1, num_workers=2,
                                         collate_fn=lambda batch: batch[0]['img'])
    for from_worker, img in zip(loader, direct):
        assert np.array_equal(from_worker, img)
    assert not np.array_equal(direct[0], mmcv.imread(dataset[0]['img_path']))


def test_bgr_is_corrupted_as_rgb():
    """spatter at severity 5 paints mud brown (RGB 63, 42, 20): red > blue in the BGR output."""
    black = np.zeros((64, 64, 3), np.uint8)
    out = apply(ImageCorruption('spatter', 5, seed=0), black).astype(int)
    mud = out.sum(-1) > 0
    assert mud.mean() > 0.02
    assert (out[mud][:, 2] > out[mud][:, 0]).all()  # channel 2 is red in BGR


@pytest.mark.parametrize('name', ['spatter', 'jpeg_compression', 'gaussian_noise'])
def test_authors_channel_order_feeds_the_bgr_array_as_it_is(name, bgr, corrupt):
    """channels='bgr' (the MaskCLIP authors' Corrupt): ImageNet-C gets mmcv's BGR array as if it
    were RGB, and its output is used as BGR; spatter's mud is then blue-ish, not brown."""
    np.random.seed(7)
    expected = corrupt(bgr.copy(), severity=3, corruption_name=name)
    assert np.array_equal(apply(ImageCorruption(name, 3, seed=7, channels='bgr'), bgr), expected)
    black = np.zeros((64, 64, 3), np.uint8)
    out = apply(ImageCorruption('spatter', 5, seed=0, channels='bgr'), black).astype(int)
    mud = out.sum(-1) > 0
    assert mud.mean() > 0.02 and (out[mud][:, 0] > out[mud][:, 2]).all()


def test_maskclip_configs_corrupt_as_the_authors():
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'maskclip',
                                   'maskclip_r50_pascal-context-59-520x520.py'))
    assert cfg.corruption_channels == 'bgr'
    steps = with_corruption(cfg.test_dataloader.dataset, 'spatter', 1, 0,
                            cfg.corruption_channels)['pipeline']
    assert [s['type'] for s in steps[:3]] == ['LoadImageFromFile', 'ImageCorruption', 'Resize']
    assert steps[1]['channels'] == 'bgr' and steps[2]['scale'] == (520, 520)


def test_gray_and_float_images_keep_shape_and_dtype(bgr):
    gray = mmcv.bgr2gray(bgr)
    transform = ImageCorruption('gaussian_blur', 2)
    assert apply(transform, gray).shape == gray.shape
    assert apply(transform, gray[..., None]).shape == gray.shape + (1, )
    as_float = apply(transform, bgr.astype(np.float32))
    assert as_float.dtype == np.float32 and as_float.shape == bgr.shape
    assert np.array_equal(as_float, apply(transform, bgr).astype(np.float32))


@pytest.mark.parametrize('name', ['gaussian_noise', 'gaussian_blur', 'jpeg_compression'])
def test_stronger_severity_degrades_more(name, bgr):
    values = [psnr(apply(ImageCorruption(name, s), bgr, SCENE), bgr) for s in range(1, 6)]
    assert values == sorted(values, reverse=True) and values[0] > values[-1] + 3, values


def test_bad_names_and_severities_are_clear_errors():
    from mmseg.registry import TRANSFORMS
    with pytest.raises(ValueError, match='fog.*choose one of gaussian_noise, shot_noise.*jpeg'):
        TRANSFORMS.build(dict(type='ImageCorruption', corruption='fog', severity=1))
    for severity in [0, 6, 2.5, '3', True, None]:
        with pytest.raises(ValueError, match='severity must be an integer from 1 to 5'):
            ImageCorruption('gaussian_noise', severity)
    with pytest.raises(ValueError, match='no LoadImageFromFile'):
        with_corruption(dict(type='X', pipeline=[dict(type='Resize')]), 'spatter', 1)


def test_with_corruption_reaches_wrapped_datasets():
    load = dict(type='LoadImageFromFile')
    inner = dict(type='SampleScenesDataset', pipeline=[load, dict(type='Resize')])
    cfg = dict(type='ConcatDataset', datasets=[inner, dict(type='RepeatDataset', dataset=inner)])
    out = with_corruption(cfg, 'defocus_blur', 2, seed=5)
    for dataset in [out['datasets'][0], out['datasets'][1]['dataset']]:
        assert [step['type'] for step in dataset['pipeline']] == [
            'LoadImageFromFile', 'ImageCorruption', 'Resize']
        assert dataset['pipeline'][1] == dict(type='ImageCorruption', corruption='defocus_blur',
                                              severity=2, seed=5, channels='rgb')
    assert inner['pipeline'] == [load, dict(type='Resize')]  # the input config is not changed


def test_tool_rejects_unknown_corruptions_and_severities():
    for bad in [['--corruptions', 'fog'], ['--severities', '6']]:
        result = subprocess.run([sys.executable, 'tools/robustness.py', CONFIG, *bad], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and 'invalid choice' in result.stderr, bad
    usage = subprocess.run([sys.executable, 'tools/robustness.py', '--help'], cwd=ROOT,
                           capture_output=True, text=True, timeout=120).stdout
    assert ' '.join(usage.split()).count(', '.join(CORRUPTIONS)) == 1  # the default: all


def run_tool(script, *args, env):
    return subprocess.run([sys.executable, f'tools/{script}', CONFIG, '--random-weights',
                           '--cfg-options', f'model.clip.model_name={TINY_VIT}', *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_tool_end_to_end_on_sample_data(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(tmp_path / 'cache'))
    out_dir = tmp_path / 'out'
    # repeats are dropped, severities sorted: 2 corruptions x 2 severities + clean
    result = run_tool('robustness.py', '--corruptions', 'gaussian_noise', 'jpeg_compression',
                      'gaussian_noise', '--severities', '5', '1', '5',
                      '--work-dir', str(tmp_path / 'work'),
                      '--out-dir', str(out_dir), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'MEANINGLESS' in result.stderr
    assert '[robustness] 5/5: jpeg_compression severity 5: mIoU' in log  # progress lines

    with open(out_dir / 'robustness.csv') as file:
        rows = list(csv.reader(file))
    assert rows[0] == ['corruption', 'severity 1', 'severity 5', 'mean']
    assert [row[0] for row in rows[1:]] == ['clean', 'gaussian_noise', 'jpeg_compression']
    values = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert ((values >= 0) & (values <= 100)).all()
    assert values[1:, 2] == pytest.approx(values[1:, :2].mean(1), abs=0.01)
    assert os.path.getsize(out_dir / 'robustness.png') > 1000

    assert re.search(r'^\| Corruption +\| level 1 \| level 5 \| mean \|$', result.stdout,
                     re.M), result.stdout[-2000:]
    for label in ['Gaussian Noise', 'JPEG']:
        assert re.search(rf'^\| {label} +\|', result.stdout, re.M)
    clean = [float(v) for v in re.search(r'^\| clean +\|([^\n]*)\|$', result.stdout,
                                         re.M).group(1).split('|')]
    assert clean == [values[0, 0]] * 3

    reference = run_tool('test.py', '--work-dir', str(tmp_path / 'test'), env=env)
    assert reference.returncode == 0, reference.stderr[-3000:]
    miou = float(re.findall(r'mIoU: ([\d.]+)', reference.stdout + reference.stderr)[-1])
    assert clean[0] == miou
