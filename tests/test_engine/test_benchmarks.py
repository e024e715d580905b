"""maskclip.engine.benchmarks (tools/eval_all.py) end to end on the shipped sample scenes (tiny
random CLIP); the tool through its command line."""
import csv
import os.path as osp
import re
import subprocess
import sys

import pytest

import maskclip.engine.benchmarks as benchmarks
from maskclip.datasets import DatasetLayoutError
from maskclip.engine.benchmarks import BenchmarkOptions, run_benchmarks
from maskclip.reproduction.table import parse_options

from ..conftest import TINY_VIT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
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


def test_eval_all_on_sample_scenes(tmp_path, capsys):
    """--protocol common: the shared configs with --mode, the paper's numbers for reference."""
    datasets = ['voc21', 'context59', 'cityscapes']
    results = run_benchmarks(BenchmarkOptions(
        'sclip', 'common', datasets, out_dir=str(tmp_path), random_weights=True,
        cfg_options=parse_options(SAMPLE_OVERRIDES)))
    assert list(results) == datasets and all(0 <= v <= 100 for v in results.values())
    captured = capsys.readouterr()
    published = {'VOC21': 59.1, 'Context59': 34.2, 'Cityscapes': 32.2}  # SCLIP's paper row
    with open(tmp_path / 'eval_all_sclip_common.csv') as f:
        rows = list(csv.DictReader(f))
    assert [row['dataset'] for row in rows] == list(published)
    for row, key in zip(rows, datasets):
        assert float(row['paper']) == published[row['dataset']] and row['README'] == ''
        assert float(row['ours']) == pytest.approx(results[key], abs=0.005)
        assert float(row['diff']) == pytest.approx(results[key] - published[row['dataset']],
                                                   abs=0.01)
        assert f'| {row["dataset"]}' in captured.out  # the printed table
    markdown = (tmp_path / 'eval_all_sclip_common.md').read_text()
    assert re.search(r'^\| VOC21 +\| +59\.10 \| +- \|', markdown, re.M) and 'meaningless' in markdown
    assert 'protocol **common**' in markdown and 'for reference only' in markdown
    log = captured.out + captured.err
    for index, key in enumerate(datasets, 1):
        assert f'[eval_all] {index}/3 {key}: training-free_vit-b16_{key}-' in log
        assert f'[eval_all] {index}/3 {key}: mIoU ' in log
    assert 'RANDOM CLIP WEIGHTS' in captured.err
    for key in datasets:  # each run's dumped config: the mode of --mode
        dumped, = (tmp_path / key).glob(f'training-free_vit-b16_{key}-*.py')
        assert "backbone=dict(mode='sclip'" in dumped.read_text()


def test_own_protocol_runs_the_method_presets(tmp_path, capsys):
    """--protocol own (default): configs/naclip/ as released, their published rows."""
    overrides = [o for o in SAMPLE_OVERRIDES if 'bg_words' not in o]
    results = run_benchmarks(BenchmarkOptions(
        'naclip', datasets=['voc20'], out_dir=str(tmp_path), random_weights=True,
        cfg_options=parse_options(overrides + ['model.test_cfg.mode=whole'])))
    assert list(results) == ['voc20']
    with open(tmp_path / 'eval_all_naclip_own.csv') as f:
        row, = csv.DictReader(f)
    assert (row['dataset'], float(row['paper']), row['README']) == ('VOC20', 79.7, '')
    log = capsys.readouterr().out
    assert '[eval_all] 1/1 voc20: naclip_vit-b16_voc20-336x336-whole.py' in log
    assert 'protocol **own**' in (tmp_path / 'eval_all_naclip_own.md').read_text()
    dumped, = (tmp_path / 'voc20').glob('naclip_vit-b16_voc20-*.py')
    assert "softmax_over='names'" in dumped.read_text()


def test_dry_run_lists_each_methods_released_settings(capsys):
    assert run_benchmarks(BenchmarkOptions('sclip'), dry_run=True) == {}
    out = capsys.readouterr().out
    lines = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
             for line in out.splitlines() if line.startswith('| ') and 'dataset' not in line}
    assert list(lines) == list(benchmarks.BENCHMARKS)  # all eight
    # config | mode | short side | windows | logit scale | softmax over | bg thd | area | classes
    assert lines['voc21'][:9] == ['configs/sclip/sclip_vit-b16_voc21-336x336-slide224.py',
                                  'sclip', '336', '224/112', '65.00', 'names', '0.10', '0.10',
                                  'voc21_sclip']
    assert lines['coco-stuff'][2] == '448' and lines['cityscapes'][2] == '560'
    run_benchmarks(BenchmarkOptions('naclip', pamr=True, datasets=['voc21']), dry_run=True)
    out = capsys.readouterr().out
    assert 'naclip-pamr_vit-b16_voc21-336x336-whole.py' in out and '|   whole |' in out
    assert '10x(8, 16)' in out
    run_benchmarks(BenchmarkOptions('clearclip', datasets=['cityscapes', 'voc21']), dry_run=True)
    out = capsys.readouterr().out
    assert '224/224' in out and '448/224' in out and 'fp16' in out and '0.50' in out


def test_published_numbers_modes_and_errors(tmp_path, capsys):
    from maskclip.models.backbones.base import MODES
    assert benchmarks.modes() == tuple(MODES)
    # common protocol: each method's comparison-table numbers from the one reproduction table
    published = {mode: benchmarks.comparison_numbers(mode) for mode in MODES}
    assert {mode for mode, numbers in published.items() if numbers} == {
        'maskclip', 'sclip', 'clearclip', 'naclip'}
    assert all(list(published[mode]) == list(benchmarks.BENCHMARKS)
               for mode in benchmarks.COMPARISON_TABLES)
    assert published['naclip']['cityscapes'] == 35.5 and published['sclip']['voc21'] == 59.1
    assert published['maskclip']['voc21'] == 43.4  # a `missing` entry: no config reproduces it
    common = BenchmarkOptions('clearclip', 'common')
    assert benchmarks.published_numbers(common, 'coco-object') == {'paper': 33.0}
    # own protocol: the reproduction table's rows of each preset (paper and README)
    sclip = benchmarks.published_numbers(BenchmarkOptions('sclip'), 'voc21')
    assert sclip == {'paper': 59.1, 'README': 59.6}
    pamr = BenchmarkOptions('naclip', pamr=True)
    assert benchmarks.published_numbers(pamr, 'context59') == {'README': 38.35}
    assert benchmarks.published_numbers(BenchmarkOptions('sclip', pamr=True), 'voc21') == {}
    rows = benchmarks.table_rows({'ade20k': 10.0, 'voc21': 60.0},
                               {'voc21': {'paper': 59.1, 'README': 59.6}})
    assert rows[0] == ['ADE20K', None, None, 10.0, None]  # nothing published
    assert rows[1][:4] == ['VOC21', 59.1, 59.6, 60.0]
    assert rows[1][4] == pytest.approx(0.4)  # against the README, which the configs reproduce
    assert '| ADE20K  |     - |      - | 10.00 |    - |' in benchmarks.format_table(rows)
    with pytest.raises(DatasetLayoutError) as error:  # before any evaluation starts
        run_benchmarks(BenchmarkOptions(
            'maskclip', 'common', ['ade20k', 'coco-object'], out_dir=str(tmp_path),
            random_weights=True,
            cfg_options={'test_dataloader.dataset.data_root': f'{tmp_path}/none'}))
    assert 'ade20k (ADE20KDataset)' in str(error.value)
    assert 'coco-object (COCOObjectDataset)' in str(error.value)
    for kwargs, message in ((dict(mode='no-such-mode'), 'is unknown'),
                            (dict(mode='maskclip'), 'run it with --protocol common'),
                            (dict(mode='clearclip', pamr=True), 'has no PAMR'),
                            (dict(mode='sclip', datasets=['voc99']), 'voc99')):
        with pytest.raises(ValueError, match=message):
            BenchmarkOptions(**kwargs)
    args = BenchmarkOptions('naclip', 'common', ['voc20', 'voc20'], pamr=True, cfg_options={
        'model.backbone.mode': 'baseline', 'model.decode_head.logit_scale': 100})
    assert args.datasets == ['voc20']
    cfg = benchmarks.dataset_cfg(args, 'voc20')  # --mode wins over --cfg-options
    assert cfg.model.backbone.mode == 'naclip' and cfg.model.decode_head.logit_scale == 100
    assert cfg.model.pamr == dict(iterations=10, dilations=(1, 2, 4, 8, 12, 24))
    assert args.out_dir == osp.join('work_dirs', 'eval_all', 'naclip')
    own = benchmarks.dataset_cfg(BenchmarkOptions('sclip', pamr=True), 'voc21')
    assert own.model.pamr == dict(iterations=10, dilations=(8, 16), resolution='original')


def test_tool_command_line(tmp_path):
    """tools/eval_all.py: its options reach the library, bad input exits 2 naming the fix."""
    def tool(*args):
        return subprocess.run([sys.executable, 'tools/eval_all.py', *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    dry = tool('--mode', 'naclip', '--pamr', '--dry-run', '--datasets', 'voc21', 'voc21')
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert dry.stdout.count('naclip-pamr_vit-b16_voc21-336x336-whole.py') == 1
    refused = tool('--mode', 'maskclip', '--dry-run')
    assert refused.returncode == 2 and 'run it with --protocol common' in refused.stderr
    assert 'Traceback' not in refused.stderr
