"""maskclip.engine.pseudo_labels (and tools/export_pseudo_labels.py through its command line) on
the sample data shipped in data/ (tiny random CLIP)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from maskclip.clip import ClipWeightsError
from maskclip.datasets import DatasetLayoutError
from maskclip.engine.pseudo_labels import export_pseudo_labels
from maskclip.reproduction.table import parse_options

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')
MASKCLIP = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'
PLUS = 'configs/maskclip_plus/maskclip-plus-vit-b16_deeplabv2-r101_4xb4-2k_voc12-20-512x512.py'
CLASSES = ['sky', 'water', 'sand', 'grass', 'tree', 'road', 'building', 'mountain']
STEMS = sorted(osp.splitext(f)[0] for f in os.listdir(osp.join(SAMPLE, 'img_dir', 'val')))
# The VOC MaskCLIP+ config, shrunk (ResNet-18 student, tiny CLIP teacher) and pointed at the
# sample scenes; its test pipeline (short side 512) and ImageNet normalisation are kept.
PLUS_ON_SAMPLES = [
    f'model.teacher.clip.model_name={TINY_VIT}', 'model.text_classifier.class_names=sample_scenes',
    'model.decode_head.channels=32', 'model.backbone.depth=18', 'model.decode_head.in_channels=512',
    'model.backbone.init_cfg=None', 'model.backbone.norm_cfg.type=BN',
    'val_dataloader.dataset.type=SampleScenesDataset',
    'val_dataloader.dataset.data_root=data/sample_scenes',
    'val_dataloader.dataset.data_prefix.img_path=img_dir/val',
    'val_dataloader.dataset.data_prefix.seg_map_path=ann_dir/val',
    'val_dataloader.dataset.ann_file=']


@pytest.fixture
def env(tmp_path):
    return dict(os.environ, HF_HUB_OFFLINE='1', MASKCLIP_CACHE_DIR=str(tmp_path / 'cache'))


@pytest.fixture(autouse=True)
def _in_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs' data roots are relative to it


def labels_in(directory, stems=STEMS):
    return {stem: np.array(Image.open(osp.join(directory, f'{stem}.png'))) for stem in stems}


def test_model_labels_equal_test_tool_predictions(tmp_path, env):
    """``--source model`` writes what mmseg's test loop predicts (tools/test.py --out)."""
    out, pred = tmp_path / 'labels', tmp_path / 'pred'
    common = ['--random-weights', '--cfg-options', f'model.clip.model_name={TINY_VIT}']
    run = dict(cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    export = subprocess.Popen([sys.executable, 'tools/export_pseudo_labels.py', MASKCLIP,
                               '--out', str(out), '--source', 'model', '--split', 'test',
                               *common], **run)
    test = subprocess.Popen([sys.executable, 'tools/test.py', MASKCLIP, '--work-dir',
                             str(tmp_path / 'work'), '--out', str(pred), *common], **run)
    (stdout, stderr), (_, test_err) = export.communicate(timeout=300), test.communicate(timeout=300)
    assert export.returncode == 0, stderr[-3000:]
    assert test.returncode == 0, test_err[-3000:]
    assert 'Wrote 8 label maps' in stdout and 'sky' in stdout

    written = sorted(os.listdir(out / 'ann_dir' / 'test'))
    assert written == [f'{stem}.png' for stem in STEMS]
    for name in written:
        image = Image.open(out / 'ann_dir' / 'test' / name)
        assert image.mode == 'P' and image.size == (320, 240)
        palette = np.array(image.getpalette()[:24]).reshape(8, 3)
        assert palette.tolist() == [[120, 180, 240], [30, 80, 200], [230, 200, 120],
                                    [90, 200, 80], [20, 110, 40], [128, 128, 128],
                                    [200, 80, 70], [140, 100, 180]]  # the dataset's palette
        assert np.array(image).max() < 8
    assert (out / 'classes.txt').read_text().split('\n') == CLASSES + ['']

    exported, predicted = labels_in(out / 'ann_dir' / 'test'), labels_in(pred)
    for stem in STEMS:
        np.testing.assert_array_equal(exported[stem], predicted[stem])
    assert len(np.unique(np.concatenate([v.ravel() for v in exported.values()]))) > 1


def options(*pairs):
    """``key=value`` strings as the ``cfg_options`` dict the tools would pass."""
    return parse_options(pairs)


def test_teacher_labels_are_maskclip_on_the_student_batch(tmp_path, capsys):
    """MaskCLIP+ default source = the frozen teacher: exactly MaskCLIP's labels under the
    student's preprocessing (ImageNet mean/std, short side 512), not the student's."""
    teacher, maskclip, student = tmp_path / 'teacher', tmp_path / 'maskclip', tmp_path / 'student'
    result = export_pseudo_labels(PLUS, str(teacher), split='val', limit=3, random_weights=True,
                                  cfg_options=options(*PLUS_ON_SAMPLES))
    assert result['source'] == 'teacher' and result['written'] == 3
    assert sorted(os.listdir(teacher / 'ann_dir' / 'val')) == [f'{s}.png' for s in STEMS[:3]]
    assert (teacher / 'classes.txt').read_text().split() == CLASSES
    assert 'Wrote 3 label maps (source: teacher)' in capsys.readouterr().out

    # The same tiny random CLIP (seed 0) as a plain MaskCLIP model, same test pipeline.
    export_pseudo_labels(MASKCLIP, str(maskclip), source='model', split='test', limit=3,
                         random_weights=True, cfg_options=options(
                             f'model.clip.model_name={TINY_VIT}', 'test_pipeline.1.scale=(2048,512)'))
    export_pseudo_labels(PLUS, str(student), source='model', split='val', limit=1,
                         random_weights=True, cfg_options=options(*PLUS_ON_SAMPLES))

    from_teacher = labels_in(teacher / 'ann_dir' / 'val', STEMS[:3])
    from_maskclip = labels_in(maskclip / 'ann_dir' / 'test', STEMS[:3])
    for stem in STEMS[:3]:
        assert from_teacher[stem].shape == (240, 320)
        np.testing.assert_array_equal(from_teacher[stem], from_maskclip[stem])
    from_student = labels_in(student / 'ann_dir' / 'val', STEMS[:1])[STEMS[0]]
    assert (from_student != from_teacher[STEMS[0]]).mean() > 0.2


def test_bad_input_names_the_problem(tmp_path):
    tiny = options(f'model.clip.model_name={TINY_VIT}')
    with pytest.raises(ValueError, match='has no teacher'):
        export_pseudo_labels(MASKCLIP, str(tmp_path / 'a'), source='teacher', split='test',
                             random_weights=True, cfg_options=tiny)
    with pytest.raises(ClipWeightsError, match='--clip-weights'):  # no weights, hub offline
        export_pseudo_labels(MASKCLIP, str(tmp_path / 'b'), split='test')
    with pytest.raises(ValueError, match='train_dataloader'):  # training-free: no train split
        export_pseudo_labels(MASKCLIP, str(tmp_path / 'c'), split='train', random_weights=True)
    with pytest.raises(DatasetLayoutError, match=f'{tmp_path}/missing'):
        export_pseudo_labels(MASKCLIP, str(tmp_path / 'd'), split='test', random_weights=True,
                             cfg_options=options(f'test_dataloader.dataset.data_root={tmp_path}/missing'))
    with pytest.raises(ValueError, match='limit=0'):
        export_pseudo_labels(MASKCLIP, str(tmp_path / 'e'), split='test', limit=0)
    assert not any((tmp_path / name).exists() for name in 'abcde')


def test_tool_turns_bad_input_into_exit_2(tmp_path, env):
    result = subprocess.run([sys.executable, 'tools/export_pseudo_labels.py', MASKCLIP, '--out',
                             str(tmp_path / 'a'), '--source', 'teacher', '--split', 'test',
                             '--random-weights'], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2
    assert 'ERROR: ' in result.stderr and 'has no teacher' in result.stderr
    assert 'Traceback' not in result.stderr
