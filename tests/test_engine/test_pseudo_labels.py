"""tools/export_pseudo_labels.py on the sample data shipped in data/ (tiny random CLIP)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ..conftest import TINY_VIT, load_tool

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


@pytest.fixture
def tool(monkeypatch):
    """The tool's ``main``, run in this process (from the repo root, as on the command line)."""
    monkeypatch.chdir(ROOT)
    return load_tool('export_pseudo_labels').main


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


def test_teacher_labels_are_maskclip_on_the_student_batch(tmp_path, tool, capsys):
    """MaskCLIP+ default source = the frozen teacher: exactly MaskCLIP's labels under the
    student's preprocessing (ImageNet mean/std, short side 512), not the student's."""
    teacher, maskclip, student = tmp_path / 'teacher', tmp_path / 'maskclip', tmp_path / 'student'
    result = tool([PLUS, '--out', str(teacher), '--split', 'val', '--limit', '3',
                   '--random-weights', '--cfg-options', *PLUS_ON_SAMPLES])
    assert result['source'] == 'teacher' and result['written'] == 3
    assert sorted(os.listdir(teacher / 'ann_dir' / 'val')) == [f'{s}.png' for s in STEMS[:3]]
    assert (teacher / 'classes.txt').read_text().split() == CLASSES
    assert 'Wrote 3 label maps (source: teacher)' in capsys.readouterr().out

    # The same tiny random CLIP (seed 0) as a plain MaskCLIP model, same test pipeline.
    tool([MASKCLIP, '--out', str(maskclip), '--source', 'model', '--split', 'test', '--limit', '3',
          '--random-weights', '--cfg-options', f'model.clip.model_name={TINY_VIT}',
          'test_pipeline.1.scale=(2048,512)'])
    tool([PLUS, '--out', str(student), '--source', 'model', '--split', 'val', '--limit', '1',
          '--random-weights', '--cfg-options', *PLUS_ON_SAMPLES])

    from_teacher = labels_in(teacher / 'ann_dir' / 'val', STEMS[:3])
    from_maskclip = labels_in(maskclip / 'ann_dir' / 'test', STEMS[:3])
    for stem in STEMS[:3]:
        assert from_teacher[stem].shape == (240, 320)
        np.testing.assert_array_equal(from_teacher[stem], from_maskclip[stem])
    from_student = labels_in(student / 'ann_dir' / 'val', STEMS[:1])[STEMS[0]]
    assert (from_student != from_teacher[STEMS[0]]).mean() > 0.2


def test_user_errors_exit_2(tmp_path, tool, capsys):
    with pytest.raises(SystemExit) as error:
        tool([MASKCLIP, '--out', str(tmp_path / 'a'), '--source', 'teacher', '--split', 'test',
              '--random-weights', '--cfg-options', f'model.clip.model_name={TINY_VIT}'])
    assert error.value.code == 2
    assert 'has no teacher' in capsys.readouterr().err

    with pytest.raises(SystemExit) as error:  # no weights given, the hub is offline
        tool([MASKCLIP, '--out', str(tmp_path / 'b'), '--split', 'test'])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert '--clip-weights' in err and 'Traceback' not in err

    with pytest.raises(SystemExit) as error:  # the sample config is training-free: no train split
        tool([MASKCLIP, '--out', str(tmp_path / 'c'), '--split', 'train', '--random-weights'])
    assert error.value.code == 2 and 'train_dataloader' in capsys.readouterr().err

    with pytest.raises(SystemExit) as error:
        tool([MASKCLIP, '--out', str(tmp_path / 'd'), '--split', 'test', '--random-weights',
              '--cfg-options', f'test_dataloader.dataset.data_root={tmp_path}/missing'])
    assert error.value.code == 2 and f'{tmp_path}/missing' in capsys.readouterr().err
    assert not (tmp_path / 'a').exists() and not (tmp_path / 'b').exists()
