"""tools/test.py end to end on the sample data shipped in data/ (random CLIP weights)."""
import os
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ..conftest import TINY_VIT, free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')


def run_test_tool(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, 'tools/test.py', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(tmp_path / 'cache'))


def direct_miou(pred_dir, num_classes):
    """mIoU over the sample set computed directly from saved predictions and ground truth."""
    inter, union = np.zeros(num_classes), np.zeros(num_classes)
    for name in sorted(os.listdir(osp.join(SAMPLE, 'ann_dir', 'val'))):
        gt = np.array(Image.open(osp.join(SAMPLE, 'ann_dir', 'val', name)))
        pred = np.array(Image.open(osp.join(pred_dir, name)))
        assert pred.shape == gt.shape
        valid = gt != 255
        for c in range(num_classes):
            p, g = (pred == c) & valid, (gt == c) & valid
            inter[c] += (p & g).sum()
            union[c] += (p | g).sum()
    present = union > 0
    return 100 * np.mean(inter[present] / union[present])


def test_sample_evaluation_with_random_tiny_clip(tmp_path, env):
    out, show = tmp_path / 'pred', tmp_path / 'show'
    result = run_test_tool(CONFIG, '--random-weights', '--work-dir', str(tmp_path / 'work'),
                           '--out', str(out), '--show-dir', str(show),
                           '--cfg-options', f'model.clip.model_name={TINY_VIT}', env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert 'RANDOM CLIP WEIGHTS' in result.stderr and 'MEANINGLESS' in result.stderr
    for name in ['sky', 'water', 'sand', 'grass', 'tree', 'road', 'building', 'mountain']:
        assert re.search(rf'\|\s+{name}\s+\|', log), f'{name} missing from the IoU table'
    miou = float(re.search(r'mIoU: ([\d.]+)', log).group(1))
    assert len(os.listdir(out)) == 8
    assert miou == pytest.approx(direct_miou(str(out), 8), abs=0.01)
    drawings = [f for _, _, files in os.walk(show) for f in files if f.endswith('.png')]
    assert len(drawings) == 8  # --show-dir: one image | prediction drawing per test image


def test_missing_weights_fail_fast_with_instructions(tmp_path, env):
    result = run_test_tool(CONFIG, '--work-dir', str(tmp_path), env=env, timeout=60)
    assert result.returncode == 2
    assert '--clip-weights' in result.stderr and '--random-weights' in result.stderr
    assert 'MASKCLIP_CLIP_WEIGHTS' in result.stderr
    assert 'Traceback' not in result.stderr
    missing = run_test_tool(CONFIG, '--clip-weights', str(tmp_path / 'nope.pt'), env=env, timeout=60)
    assert missing.returncode == 2 and 'CLIP weight file not found' in missing.stderr


def test_wrong_dataset_layout_and_class_count(tmp_path, env):
    result = run_test_tool(CONFIG, '--random-weights', '--work-dir', str(tmp_path), '--cfg-options',
                           f'model.clip.model_name={TINY_VIT}',
                           f'test_dataloader.dataset.data_root={tmp_path}/missing', env=env)
    assert result.returncode == 2 and 'data/README.md' in result.stderr
    assert f'{tmp_path}/missing' in result.stderr
    result = run_test_tool(CONFIG, '--random-weights', '--work-dir', str(tmp_path), '--cfg-options',
                           f'model.clip.model_name={TINY_VIT}',
                           'model.decode_head.class_names=voc20', env=env)
    assert result.returncode != 0
    assert 'The model predicts 20 classes but SampleScenesDataset has 8' in result.stderr


@pytest.mark.slow
def test_main_job_config_runs_with_vit_b16(tmp_path, env):
    """The README's main job as a smoke run: real ViT-B/16 architecture, random weights."""
    result = run_test_tool(CONFIG, '--random-weights', '--work-dir', str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r'mIoU: [\d.]+', result.stdout + result.stderr)


@pytest.mark.slow
def test_slide_and_multi_scale_inference_from_config(tmp_path, env):
    """Table 8's multi-scale config and the slide config run through tools/test.py."""
    for config in ['maskclip_vit-b16_pascal-context-59-ms-224-336-520.py',
                   'maskclip_vit-b16_pascal-context-59-slide-448x448.py']:
        module = 'model.module' if '-ms-' in config else 'model'
        result = run_test_tool(
            f'configs/maskclip/{config}', '--random-weights', '--work-dir', str(tmp_path),
            '--cfg-options', f'{module}.clip.model_name={TINY_VIT}',
            f'{module}.decode_head.class_names=sample_scenes',
            'test_dataloader.dataset.type=SampleScenesDataset',
            'test_dataloader.dataset.data_root=data/sample_scenes',
            'test_dataloader.dataset.data_prefix.img_path=img_dir/val',
            'test_dataloader.dataset.data_prefix.seg_map_path=ann_dir/val',
            'test_dataloader.dataset.ann_file=', env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        assert re.search(r'mIoU: [\d.]+', result.stdout + result.stderr)


def test_dist_test_two_cpu_processes_match_one(tmp_path, env):
    """tools/dist_test.sh over torchrun (gloo on CPU): same metrics, each image scored once."""
    args = ['--random-weights', '--cfg-options', f'model.clip.model_name={TINY_VIT}']
    single = run_test_tool(CONFIG, *args, '--work-dir', str(tmp_path / 'one'), env=env)
    dist = subprocess.run(['bash', 'tools/dist_test.sh', CONFIG, '2', *args, '--work-dir',
                           str(tmp_path / 'two'), '--out', str(tmp_path / 'pred')],
                          cwd=ROOT, env=dict(env, PORT=str(free_port()), PYTHON=sys.executable),
                          capture_output=True, text=True, timeout=600)
    assert dist.returncode == 0, dist.stderr[-3000:]
    pattern = r'Iter\(test\) \[(\d+)/\d+\]\s+aAcc: ([\d.]+)\s+mIoU: ([\d.]+)'
    one = re.findall(pattern, single.stdout + single.stderr)
    two = re.findall(pattern, dist.stdout + dist.stderr)
    assert one and two
    assert one[-1][0] == '8' and two[-1][0] == '4'  # 8 images split over two processes
    assert one[-1][1:] == two[-1][1:]
    assert len(os.listdir(tmp_path / 'pred')) == 8
