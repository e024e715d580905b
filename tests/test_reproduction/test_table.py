"""configs/reproduction/published.yaml and its reader, maskclip.reproduction (the scripts that
run rows and write the model-zoo READMEs: tests/test_tools/test_reproduce.py)."""
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


ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

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


def test_robustness_rows_name_corruptions_the_transform_applies():
    """The table's corruption names are the transform's: each one builds and changes an image."""
    import numpy as np
    from maskclip.datasets.transforms import ImageCorruption
    used = {row.corruption for row in TABLE.rows if row.run == 'robustness'} - {rp.CLEAN}
    assert used == set(rp.CORRUPTIONS) and len(used) == 8
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for name in sorted(used):
        out = ImageCorruption(corruption=name, severity=3)(dict(img=image.copy()))['img']
        assert out.shape == image.shape and not np.array_equal(out, image), name


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


