"""configs/reproduction/published.yaml, maskclip.reproduction and tools/reproduce.py (its CLI)."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
import yaml
from mmengine.config import Config

import maskclip.reproduction as rp

from .conftest import TINY_VIT, load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SAMPLE_CONFIG = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'


tool = load_tool('reproduce')
TABLE = rp.load_table()
BY_ID = {row.id: row for row in TABLE.rows}


# ------------------------------------------------------------------------------ the table
def test_table_covers_the_papers_tables_with_unique_ids():
    ids = [row.id for row in TABLE.rows] + [entry['id'] for entry in TABLE.missing]
    assert len(ids) == len(set(ids))
    counts = {}
    for row in TABLE.rows:
        counts[row.paper, row.table] = counts.get((row.paper, row.table), 0) + 1
    expected = {('maskclip', '1a'): 24, ('maskclip', '1b'): 34, ('maskclip', '2'): 9,
                ('maskclip', '3'): 12, ('maskclip', '8'): 5, ('reclip', '2'): 12,
                ('reclip', '3'): 6, ('reclip', '4'): 9, ('reclip', '5'): 6, ('reclip', '6'): 4,
                ('reclip', '7'): 3}
    for key, count in expected.items():
        assert counts.get(key) == count, key
    # spot checks against the papers
    assert BY_ID['maskclip-t1a-vit-b16-context59-ks-pd'].published == 25.5
    assert BY_ID['maskclip-t2-context60-miou-unseen'].published == 66.7
    assert BY_ID['maskclip-t8-vit-b16-context59-ms-224-336-520'].published == 26.34
    assert BY_ID['maskclip-t1b-r50-context59-impulse-noise-l5'].published == 2.1
    assert BY_ID['reclip-t5-voc20-add'].cfg_options == {'model.decode_head.subtract': False}
    assert BY_ID['reclip-t7-voc20-mask-feature'].cfg_options == {
        'distillation.model.text_loss_weight': 0}


def test_every_row_config_parses_and_multi_stage_configs_are_trained():
    rp.check_row_configs(TABLE.rows)  # raises on a config that does not parse
    for row in TABLE.rows:
        assert not osp.isabs(row.config) and row.config.startswith('configs/')
        crop, schedule = rp.config_facts(row.config)
        assert crop != '-', row.config
        assert (schedule == 'training-free') == (row.run != 'train'), row.id
    two_stage = BY_ID['reclip-t2-voc20-distill']
    assert [name for name, _ in rp.stages_of(two_stage.config)] == ['rectification',
                                                                     'distillation']


def _rows_of_config(config):
    """Rows of ``config``, or of a multi-stage config whose last stage it is."""
    return [row for row in TABLE.rows if row.config == config
            or (rp.stages_of(row.config) and rp.stages_of(row.config)[-1][1] == config)]


def test_published_numbers_match_the_config_headers():
    checked = 0
    for path in sorted(glob.glob(osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)):
        config = osp.relpath(path, ROOT)
        with open(path) as f:
            header = ''.join(line for line in f if line.startswith('#'))
        rows = _rows_of_config(config)
        if 'Published mIoU: none' in header:
            assert not rows, config
        single = re.search(r'Published mIoU: ([\d.]+)', header)
        if single:
            text = single.group(1).rstrip('.')
            decimals = len(text.partition('.')[2])
            plain = [row for row in rows if not row.cfg_options and row.metric == 'mIoU'
                     and row.corruption in (None, rp.CLEAN)]
            assert plain, f'{config} says Published mIoU: {text} but no row uses it'
            for row in plain:
                assert round(row.published, decimals) == float(text), (row.id, config)
            checked += 1
        zero_shot = re.search(r'Published: mIoU\(U\) ([\d.]+) / mIoU ([\d.]+) / hIoU ([\d.]+)',
                              header)
        if zero_shot:
            for metric, text in zip(['mIoU(unseen)', 'mIoU', 'hIoU'], zero_shot.groups()):
                assert any(row.metric == metric and row.published == float(text.rstrip('.'))
                           and row.table == '2' for row in rows), (config, metric)
            checked += 1
    assert checked >= 40


def test_corruption_names_are_those_of_the_transform():
    from maskclip.datasets.transforms import CORRUPTIONS
    assert rp.CORRUPTIONS == tuple(CORRUPTIONS)
    assert rp.CORRUPTION_NAMES == CORRUPTIONS


def test_rn50_teacher_configs_differ_from_their_vit_twins_only_in_the_teacher():
    """Table 2 (caption: CLIP-ResNet-50 pseudo labels) points at the maskclip-plus-r50 configs;
    each equals its ViT-B/16 twin with the teacher (and the 1024-d head) swapped."""
    swap = {'model.teacher.clip.model_name': 'RN50', 'model.decode_head.channels': 1024}
    pairs = sorted(glob.glob(osp.join(ROOT, 'configs', 'maskclip_plus', 'maskclip-plus-r50_*.py')))
    assert len(pairs) == 7
    for r50_path in pairs:
        vit = Config.fromfile(r50_path.replace('maskclip-plus-r50_', 'maskclip-plus-vit-b16_'))
        vit.merge_from_dict(swap)
        # the ResNet takes none of the ViT tower's options (mlp_act, ln_eps, patch_padding, ...)
        vit.model.teacher.backbone = dict(type='MaskClipResNet', mode='maskclip')
        assert vit.model.to_dict() == Config.fromfile(r50_path).model.to_dict(), r50_path
    table2 = [row for row in TABLE.rows if row.paper == 'maskclip' and row.table == '2']
    assert table2 and all('maskclip-plus-r50_' in row.config for row in table2)


def _write(path, rows, tables=None, missing=None):
    data = dict(tables=tables or TABLE.tables, rows=rows)
    if missing is not None:
        data['missing'] = missing
    with open(path, 'w') as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return str(path)


def _raw(row_id, **changes):
    row = BY_ID[row_id]
    raw = {key: getattr(row, key) for key in rp.REQUIRED}
    for key in rp.OPTIONAL:
        if getattr(row, key) not in (None, {}):
            raw[key] = getattr(row, key)
    raw.update(changes)
    return {key: value for key, value in raw.items() if value is not ...}


def test_validation_names_every_bad_row(tmp_path):
    good = _raw('maskclip-t1a-vit-b16-context59-plain')
    rows = [good, dict(good),                                       # duplicate id
            _raw('maskclip-t1a-r50-context59-plain', config='configs/nope.py'),
            _raw('maskclip-t1a-r50-coco-stuff-plain', published=...),
            _raw('maskclip-t8-vit-b16-context59-224', run='benchmark'),
            _raw('reclip-t5-voc20-add', cfg_options={'model.x': '12'}),
            _raw('maskclip-t1b-r50-context59-spatter-l5', severity=7),
            _raw('maskclip-t8-vit-b16-context59-336', colour='red', table='9')]
    with pytest.raises(rp.TableError) as error:
        rp.load_table(_write(tmp_path / 'bad.yaml', rows))
    message = str(error.value)
    assert 'row 1 (maskclip-t1a-vit-b16-context59-plain): duplicate id' in message
    assert 'row 2 (maskclip-t1a-r50-context59-plain): config configs/nope.py does not exist' \
        in message
    assert 'row 3 (maskclip-t1a-r50-coco-stuff-plain): missing required key(s) published' \
        in message
    assert "row 4 (maskclip-t8-vit-b16-context59-224): run 'benchmark'" in message
    assert "row 5 (reclip-t5-voc20-add): cfg_options model.x: '12' would reach" in message
    assert 'row 6 (maskclip-t1b-r50-context59-spatter-l5): robustness rows need severity' \
        in message
    assert 'row 7 (maskclip-t8-vit-b16-context59-336): unknown key(s) colour' in message
    assert "row 7 (maskclip-t8-vit-b16-context59-336): table '9' of maskclip" in message
    assert 'row 0 ' not in message
    # a missing entry reusing a row id, and a multi-stage config evaluated without training
    with pytest.raises(rp.TableError, match=r'missing 0 \(maskclip-t1a-vit-b16-context59-plain'
                       r'\): duplicate id'):
        rp.load_table(_write(tmp_path / 'dup.yaml', [good], missing=[dict(
            id=good['id'], paper='maskclip', table='3', row='x', dataset='y', published=1.0,
            reason='z')]))
    two_stage = rp.load_table(_write(tmp_path / 'stage.yaml', [
        _raw('reclip-t2-voc20-distill', run='eval')])).rows
    with pytest.raises(rp.TableError, match='reclip-t2-voc20-distill: .* multi-stage'):
        rp.check_row_configs(two_stage)


def test_selection_by_ids_globs_tables_and_run_types():
    ids = lambda rows: [row.id for row in rows]  # noqa: E731
    assert ids(rp.select_rows(TABLE, ['reclip-t7-*'])) == [
        'reclip-t7-voc20-mask', 'reclip-t7-voc20-mask-feature', 'reclip-t7-voc20-mask-feature-text']
    assert len(rp.select_rows(TABLE, tables=['maskclip:1a'], run_types=['eval'])) == 20
    assert {row.table for row in rp.select_rows(TABLE, tables=['8'])} == {'8'}
    assert {row.paper for row in rp.select_rows(TABLE, tables=['reclip'])} == {'reclip'}
    with pytest.raises(rp.TableError, match='nope-\\*'):
        rp.select_rows(TABLE, ['nope-*'])
    with pytest.raises(rp.TableError, match='maskclip:99'):
        rp.select_rows(TABLE, tables=['maskclip:99'])
    # rows with the same run type, config and options share one run
    runs = rp.plan_runs(rp.select_rows(TABLE, tables=['maskclip:2', 'maskclip:3']), '/w')
    assert len(runs) == 5 and sorted(len(run.rows) for run in runs) == [3, 3, 4, 4, 7]
    robustness = rp.plan_runs(rp.select_rows(TABLE, tables=['maskclip:1b']), '/w')
    assert [(run.kind, len(run.rows)) for run in robustness] == [
        ('eval', 1), ('robustness', 16), ('eval', 1), ('robustness', 16)]
    assert robustness[1].severities == [1, 5] and len(robustness[1].corruptions) == 8


def test_dry_run_lists_the_commands(tmp_path, capsys):
    work = str(tmp_path / 'work')
    code = tool.main(['--rows', 'reclip-t7-voc20-mask', 'maskclip-t1a-vit-b16-context59-ks-pd',
                    '--dry-run', '--random-weights', '--work-dir', work, '--cfg-options',
                    'train_cfg.max_iters=2', 'distillation.train_cfg.val_interval=2'])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    commands = [line for line in lines if not line.startswith('[reproduce]')]
    assert len(commands) == 4, lines
    evaluate, rectify, distill, test = commands
    ks_pd = 'configs/maskclip/maskclip-ks-pd_vit-b16_pascal-context-59-520x520.py'
    assert evaluate.split()[1:3] == ['tools/test.py', ks_pd]
    assert f'--work-dir {work}/eval_maskclip-ks-pd_vit-b16_pascal-context-59-520x520 ' in evaluate
    # the stage option of the two-stage config does not reach the single-stage eval
    assert evaluate.endswith('--random-weights --cfg-options train_cfg.max_iters=2')
    # each stage on the GPU count of its recipe: rectification 1 (python), distillation 4
    two_stage = 'configs/reclip/reclip_vit-b16_deeplabv2-r50_voc12-20.py'
    assert rectify.split()[1:5] == ['tools/train.py', two_stage, '--stages', 'rectification']
    assert distill.split()[:6] == ['bash', 'tools/dist_train.sh', two_stage, '4', '--stages',
                                   'distillation']
    run_dir = re.search(r'--work-dir (\S+)/train ', rectify).group(1)
    assert run_dir == re.search(r'--work-dir (\S+)/train ', distill).group(1)
    assert run_dir.startswith(f'{work}/train_reclip_vit-b16_deeplabv2-r50_voc12-20_')
    for train in (rectify, distill):
        assert train.endswith('--random-weights --cfg-options '
                              'distillation.model.feature_loss_weight=0 '
                              'distillation.model.text_loss_weight=0 train_cfg.max_iters=2 '
                              'distillation.train_cfg.val_interval=2')
    # tested: the last stage's config and checkpoint, its options without the stage prefix
    assert test.split()[1:3] == [
        'tools/test.py',
        'configs/reclip/reclip-distillation_vit-b16_deeplabv2-r50_4xb4-100e_voc12-20-512x512.py']
    assert f'{run_dir}/train/distillation/stage_done.json' in test
    assert f'--work-dir {run_dir}/test ' in test
    assert test.endswith('--cfg-options train_cfg.max_iters=2 model.feature_loss_weight=0 '
                         'model.text_loss_weight=0 train_cfg.val_interval=2')
    assert not os.path.exists(work)  # a dry run writes nothing


def test_running_needs_a_selection(capsys):
    assert tool.main([]) == 2
    assert '--all' in capsys.readouterr().err


def test_the_tool_starts_without_torch():
    """Listing, dry runs and the README check import maskclip.reproduction (importing maskclip
    imports nothing heavy): no torch, no mmseg, no model code."""
    result = subprocess.run([sys.executable, '-X', 'importtime', 'tools/reproduce.py',
                             '--check-zoo'], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'model-zoo READMEs up to date' in result.stdout
    imported = {line.rsplit('|', 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith('import time:')}
    assert 'maskclip.reproduction.zoo' in imported
    assert not imported & {'torch', 'mmseg', 'mmcv', 'cv2', 'maskclip.models', 'maskclip.datasets'}


# ------------------------------------------------------------------------------ model zoo
def test_model_zoo_readmes_are_up_to_date():
    """Regenerating the READMEs' results tables from the YAML changes nothing."""
    assert rp.write_zoo(TABLE, check=True) == [], \
        'run: python tools/reproduce.py --write-zoo'
    for readme in rp.ZOO_READMES.values():
        with open(osp.join(ROOT, readme)) as f:
            text = f.read()
        assert 'not measured' in text and '```bibtex' in text
        for link in re.findall(r'\]\(([^)#]+\.py)\)', text):  # config links resolve
            assert osp.isfile(osp.join(ROOT, osp.dirname(readme), link)), (readme, link)
    rows_in = lambda readme: [row for row in TABLE.rows  # noqa: E731
                              if rp.zoo_readme_of(row) == readme]
    assert sum(len(rows_in(readme)) for readme in rp.ZOO_READMES.values()) == len(TABLE.rows)


def test_model_zoo_takes_measured_numbers(tmp_path):
    readme = rp.ZOO_READMES['configs/maskclip/']
    section = rp.zoo_section(TABLE, readme, {'maskclip-t1a-r50-context59-baseline': 8.256})
    assert '| 8.3 | 8.26 |' in section
    report = tmp_path / 'report.json'
    report.write_text(json.dumps(dict(random_weights=True, rows=[])))
    with pytest.raises(rp.TableError, match='random CLIP weights'):
        rp.load_results([str(report)])


# ------------------------------------------------------------------------------ end to end
def test_end_to_end_on_the_sample_data(tmp_path):
    """Real rows (ids, tables, published numbers) pointed at the shipped sample scenes."""
    picks = {
        'maskclip-t1a-vit-b16-context59-plain': {},
        'maskclip-t8-vit-b16-context59-520': {},  # shares the run of the row above
        'maskclip-t1a-vit-b16-context59-ks-pd': {'cfg_options': {
            'model.decode_head.key_smoothing': True, 'model.decode_head.prompt_denoising': True}},
        'maskclip-t1b-vit-b16-context59-gaussian-noise-l1': {},
    }
    rows = [_raw(row_id, config=SAMPLE_CONFIG, dataset='sample scenes', **changes)
            for row_id, changes in picks.items()]
    table_file = _write(tmp_path / 'sample.yaml', rows)
    report = tmp_path / 'out' / 'report.md'
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    result = subprocess.run(
        [sys.executable, 'tools/reproduce.py', '--table-file', table_file, '--all',
         '--random-weights', '--work-dir', str(tmp_path / 'work'), '--report', str(report),
         '--cfg-options', f'model.clip.model_name={TINY_VIT}'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    out = result.stdout
    assert '4 row(s)' in out and 'in 3 run(s)' in out
    for number in range(1, 5):
        assert re.search(rf'\[reproduce\] row {number}/4 \S+: published .* elapsed', out)
    assert 'MEANINGLESS' in out
    text = report.read_text()
    assert 'MEANINGLESS' in text
    header = '| id | paper | table | row | dataset | metric | published | ours | diff | config |'
    assert header in text
    lines = {line.split(' | ')[0][2:]: line.split(' | ') for line in text.splitlines()
             if line.startswith('| maskclip-')}
    assert set(lines) == set(picks)
    for row_id in picks:
        cells = lines[row_id]
        expected = BY_ID[row_id]
        assert cells[1:4] == [expected.paper, expected.table, expected.row]
        assert float(cells[6]) == expected.published
        ours, diff = float(cells[7]), float(cells[8])
        assert 0 <= ours <= 100
        assert diff == pytest.approx(ours - expected.published, abs=0.011)
    assert lines['maskclip-t1a-vit-b16-context59-plain'][7] == \
        lines['maskclip-t8-vit-b16-context59-520'][7]
    data = json.loads(report.with_suffix('.json').read_text())
    assert data['random_weights'] is True
    assert {r['id']: r['published'] for r in data['rows']} == {
        row_id: BY_ID[row_id].published for row_id in picks}
    assert all(r['status'] == 'ok' and isinstance(r['ours'], float) for r in data['rows'])


@pytest.mark.slow
def test_train_row_of_a_two_stage_config_end_to_end(tmp_path):
    """A ReCLIP rectify -> distill row, shrunk as in test_reclip_training (tiny CLIP, tiny
    DeepLabv2, sample scenes, 2 epochs + 4 iterations): trained, then the distillation stage's
    final checkpoint tested."""
    from .test_reclip_training import write_configs
    pipeline = write_configs(str(tmp_path))
    row_id = 'reclip-t7-voc20-mask-feature'
    table_file = _write(tmp_path / 'train.yaml', [_raw(row_id, config=pipeline)])
    report = tmp_path / 'report.md'
    env = dict(os.environ, HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='')
    result = subprocess.run(
        [sys.executable, 'tools/reproduce.py', '--table-file', table_file, '--rows', row_id,
         '--random-weights', '--work-dir', str(tmp_path / 'work'), '--report', str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    run_dir = glob.glob(str(tmp_path / 'work' / 'train_pipeline_*'))
    assert len(run_dir) == 1
    with open(osp.join(run_dir[0], 'train', 'distillation', 'stage_done.json')) as f:
        done = json.load(f)
    test_line = next(line for line in result.stdout.splitlines()
                     if line.startswith('[reproduce] $') and 'tools/test.py' in line)
    assert f"distill.py {done['checkpoint']} " in test_line
    assert test_line.endswith('--cfg-options model.text_loss_weight=0')
    data = json.loads(report.with_suffix('.json').read_text())
    assert [(r['id'], r['published'], r['status']) for r in data['rows']] == [
        (row_id, 74.1, 'ok')]
    assert isinstance(data['rows'][0]['ours'], float)
