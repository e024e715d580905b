"""tools/eval_all.py end to end on the shipped sample scenes (tiny random CLIP)."""
import csv
import os.path as osp

import pytest

from .conftest import TINY_VIT, load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLE = osp.join(ROOT, 'data', 'sample_scenes')
# every benchmark config pointed at the sample scenes and their 8 class names
SAMPLE_OVERRIDES = [
    f'model.clip.model_name={TINY_VIT}', 'model.decode_head.class_names=sample_scenes',
    'model.decode_head.templates=single', 'model.decode_head.bg_words=None',
    'test_dataloader.dataset.type=SampleScenesDataset',
    f'test_dataloader.dataset.data_root={SAMPLE}',
    'test_dataloader.dataset.data_prefix.img_path=img_dir/val',
    'test_dataloader.dataset.data_prefix.seg_map_path=ann_dir/val',
    'test_dataloader.dataset.ann_file=', 'test_dataloader.num_workers=0',
    'test_dataloader.persistent_workers=False']


@pytest.fixture(scope='module')
def eval_all():
    return load_tool('eval_all')


def test_eval_all_on_sample_scenes(tmp_path, capsys, eval_all):
    datasets = ['voc21', 'context59', 'cityscapes']
    results = eval_all.main(['--mode', 'sclip', '--datasets', *datasets, '--random-weights',
                             '--out-dir', str(tmp_path), '--cfg-options', *SAMPLE_OVERRIDES])
    assert list(results) == datasets and all(0 <= v <= 100 for v in results.values())
    captured = capsys.readouterr()
    published = {'VOC21': 59.1, 'Context59': 34.2, 'Cityscapes': 32.2}  # SCLIP's row
    with open(tmp_path / 'eval_all_sclip.csv') as f:
        rows = list(csv.DictReader(f))
    assert [row['dataset'] for row in rows] == list(published)
    for row, key in zip(rows, datasets):
        assert float(row['published']) == published[row['dataset']]
        assert float(row['ours']) == pytest.approx(results[key], abs=0.005)
        assert float(row['diff']) == pytest.approx(results[key] - published[row['dataset']],
                                                   abs=0.01)
        assert f'| {row["dataset"]}' in captured.out  # the printed table
    markdown = (tmp_path / 'eval_all_sclip.md').read_text()
    assert '| VOC21 | 59.10 |' in markdown and 'meaningless' in markdown
    log = captured.out + captured.err
    for index, key in enumerate(datasets, 1):
        assert f'[eval_all] {index}/3 {key}: training-free_vit-b16_{key}-' in log
        assert f'[eval_all] {index}/3 {key}: mIoU ' in log
    assert 'RANDOM CLIP WEIGHTS' in captured.err
    for key in datasets:  # each run's dumped config: the mode of --mode
        dumped, = (tmp_path / key).glob(f'training-free_vit-b16_{key}-*.py')
        assert "backbone=dict(mode='sclip'" in dumped.read_text()


def test_modes_published_numbers_and_missing_data(tmp_path, capsys, eval_all):
    from maskclip.models.backbones.base import MODES
    parser_modes = eval_all.modes()
    assert parser_modes == tuple(MODES)
    published = eval_all.load_published()
    assert set(published) == {'maskclip', 'sclip', 'clearclip', 'naclip'}
    assert all(list(numbers) == list(eval_all.BENCHMARKS) for numbers in published.values())
    assert published['naclip']['cityscapes'] == 35.5 and published['sclip']['voc21'] == 59.1
    rows = eval_all.table_rows({'ade20k': 10.0}, published.get('baseline') or {})
    assert rows == [['ADE20K', None, 10.0, None]]  # no published number for the baseline
    assert '| ADE20K  |         - | 10.00 |    - |' in eval_all.format_table(rows)
    with pytest.raises(SystemExit) as exit_info:  # before any evaluation starts
        eval_all.main(['--mode', 'maskclip', '--datasets', 'ade20k', 'coco-object',
                       '--random-weights', '--out-dir', str(tmp_path), '--cfg-options',
                       f'test_dataloader.dataset.data_root={tmp_path}/none'])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert 'ade20k (ADE20KDataset)' in err and 'coco-object (COCOObjectDataset)' in err
    with pytest.raises(SystemExit):
        eval_all.parse_args(['--mode', 'no-such-mode'])
    args = eval_all.parse_args(['--mode', 'naclip', '--pamr', '--datasets', 'voc20',
                                '--cfg-options', 'model.backbone.mode=baseline',
                                'model.decode_head.logit_scale=100'])
    cfg = eval_all.dataset_cfg(args, 'voc20')  # --mode wins over --cfg-options
    assert cfg.model.backbone.mode == 'naclip' and cfg.model.decode_head.logit_scale == 100
    assert cfg.model.pamr == dict(iterations=10, dilations=(1, 2, 4, 8, 12, 24))
    assert args.out_dir == osp.join('work_dirs', 'eval_all', 'naclip')
