""".dev_scripts/reproduce.py and .dev_scripts/gather_models.py through their command lines: run
planning and commands (dry runs), the reports, the model-zoo READMEs, two end-to-end runs."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from ..conftest import ROOT, TINY_VIT
from ..test_reproduction.test_table import BY_ID, _raw, _write

SAMPLE_CONFIG = 'configs/maskclip/maskclip_vit-b16_sample-scenes-448x448.py'
ZOO_READMES = sorted(glob.glob(osp.join(ROOT, 'configs', '*', 'README.md')))


def script(name, *args, env=None, timeout=120):
    """``python .dev_scripts/<name>.py ARGS`` from the repository root, as a maintainer runs it."""
    return subprocess.run([sys.executable, f'.dev_scripts/{name}.py', *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def planned_runs(out):
    """``[(kind, number of rows)]`` from a dry run's ``run i/n`` lines."""
    return [(kind, len(rows.split(', '))) for kind, rows in
            re.findall(r'^\[reproduce\] run \d+/\d+: (\w+) \S+ \(rows: ([^)]*)\)', out, re.M)]


def test_rows_with_one_config_and_options_share_a_run():
    result = script('reproduce', '--tables', 'maskclip:2', 'maskclip:3', '--dry-run')
    assert result.returncode == 0, result.stderr
    runs = planned_runs(result.stdout)
    assert len(runs) == 5 and sorted(count for _, count in runs) == [3, 3, 4, 4, 7]
    result = script('reproduce', '--tables', 'maskclip:1b', '--dry-run')
    assert planned_runs(result.stdout) == [
        ('eval', 1), ('robustness', 16), ('eval', 1), ('robustness', 16)]
    robustness = next(line for line in result.stdout.splitlines() if 'tools/robustness.py' in line)
    assert '--severities 1 5' in robustness
    assert len(re.search(r'--corruptions ((?:\w+ )+)', robustness).group(1).split()) == 8


def test_dry_run_lists_the_commands(tmp_path):
    work = str(tmp_path / 'work')
    result = script('reproduce', '--rows', 'reclip-t7-voc20-mask',
                    'maskclip-t1a-vit-b16-context59-ks-pd', '--dry-run', '--random-weights',
                    '--work-dir', work, '--cfg-options', 'train_cfg.max_iters=2',
                    'distillation.train_cfg.val_interval=2')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
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


def test_running_needs_a_selection():
    result = script('reproduce')
    assert result.returncode == 2 and '--all' in result.stderr


@pytest.mark.parametrize('name, args', [('gather_models', ['--check']),
                                        ('reproduce', ['--all', '--dry-run'])])
def test_the_scripts_start_without_torch(name, args):
    """The README check and dry runs of every row (pipeline configs included) import
    maskclip.reproduction and maskclip.stages only: no torch, no mmseg, no model code."""
    result = subprocess.run([sys.executable, '-X', 'importtime', f'.dev_scripts/{name}.py',
                             *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    imported = {line.rsplit('|', 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith('import time:')}
    assert {'maskclip.reproduction.table', 'maskclip.stages'} <= imported
    assert not imported & {'torch', 'mmseg', 'mmcv', 'cv2', 'maskclip.models', 'maskclip.datasets'}


# ------------------------------------------------------------------------------ model zoo
def test_model_zoo_readmes_are_up_to_date():
    """Regenerating the READMEs' results tables from the YAML changes nothing."""
    result = script('gather_models', '--check')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'model-zoo READMEs up to date' in result.stdout
    for readme in ZOO_READMES:
        with open(readme) as f:
            text = f.read()
        assert 'not measured' in text and '```bibtex' in text
        for link in re.findall(r'\]\(([^)#]+\.py)\)', text):  # config links resolve
            assert osp.isfile(osp.join(osp.dirname(readme), link)), (readme, link)


def test_model_zoo_takes_measured_numbers_every_row_once(tmp_path):
    """A report with a distinct number per row: each README cell of ours shows it, and every
    row of the table is in exactly one README."""
    ids = sorted(BY_ID)
    values = {row_id: 100 + index / 100 for index, row_id in enumerate(ids)}  # 100.00, 100.01...
    report = tmp_path / 'report.json'
    report.write_text(json.dumps(dict(random_weights=False, rows=[
        dict(id=row_id, ours=value) for row_id, value in values.items()])))
    out = tmp_path / 'zoo'
    result = script('gather_models', '--results', report, '--out-dir', out)
    assert result.returncode == 0, result.stdout + result.stderr
    texts = [(out / osp.relpath(readme, ROOT)).read_text() for readme in ZOO_READMES]
    found = [set(re.findall(r'\b1\d\d\.\d\d\b', text)) for text in texts]
    assert set.union(*found) == {f'{value:.2f}' for value in values.values()}
    assert sum(map(len, found)) == len(values)  # no row in two READMEs
    text = ''.join(texts)
    assert f"| {BY_ID['maskclip-t1a-r50-context59-baseline'].published:.1f} | " \
           f"{values['maskclip-t1a-r50-context59-baseline']:.2f} |" in text
    assert script('gather_models', '--check').returncode == 0  # the repository is untouched
    report.write_text(json.dumps(dict(random_weights=True, rows=[])))
    refused = script('gather_models', '--results', report, '--out-dir', out)
    assert refused.returncode == 2 and 'random CLIP weights' in refused.stderr


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
        [sys.executable, '.dev_scripts/reproduce.py', '--table-file', table_file, '--all',
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
    from ..test_reclip.test_training import write_configs
    pipeline = write_configs(str(tmp_path))
    row_id = 'reclip-t7-voc20-mask-feature'
    table_file = _write(tmp_path / 'train.yaml', [_raw(row_id, config=pipeline)])
    report = tmp_path / 'report.md'
    env = dict(os.environ, HF_HUB_OFFLINE='1', CUDA_VISIBLE_DEVICES='')
    result = subprocess.run(
        [sys.executable, '.dev_scripts/reproduce.py', '--table-file', table_file, '--rows', row_id,
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
