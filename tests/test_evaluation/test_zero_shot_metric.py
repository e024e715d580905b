"""ZeroShotIoUMetric: seen / unseen / harmonic IoU checked against hand counts and mmseg."""
import math

import numpy as np
import pytest
import torch
from mmseg.evaluation.metrics import IoUMetric

import maskclip.evaluation.zero_shot_metric as zsm
from maskclip.evaluation import ZeroShotIoUMetric

CLASSES = ('sky', 'tree', 'cat', 'dog')  # 'dog' never appears in the ground truth
IGN = 255

GT = [
    np.array([[0, 0, 1, 1],
              [0, 2, 2, 1],
              [IGN, 2, 1, 1]]),
    np.array([[1, 1, 2, 2],
              [0, 0, 2, IGN],
              [0, 1, 1, IGN]]),
]
# 'dog' is neither in the ground truth nor predicted -> IoU and Acc are NaN
PRED_A = [
    np.array([[0, 1, 1, 1],
              [0, 2, 0, 1],
              [0, 2, 2, 1]]),
    np.array([[1, 1, 2, 0],
              [0, 1, 2, 2],
              [0, 1, 1, 0]]),
]
# 'dog' predicted on two valid pixels (and one ignored) -> IoU 0, Acc NaN
PRED_B = [PRED_A[0].copy(), PRED_A[1].copy()]
PRED_B[0][0, 1] = 3
PRED_B[1][1, 1] = 3
PRED_B[1][1, 3] = 3
# no unseen class is ever predicted correctly -> mIoU(unseen) 0 -> hIoU 0
PRED_C = [np.where(p == 2, 0, p) for p in PRED_A]


def _samples(preds, gts=GT):
    return [
        dict(pred_sem_seg=dict(data=torch.from_numpy(p).long()[None]),
             gt_sem_seg=dict(data=torch.from_numpy(g).long()[None]))
        for p, g in zip(preds, gts)
    ]


def _run(metric, preds, classes=CLASSES):
    metric.dataset_meta = dict(classes=classes)
    metric.process(data_batch=None, data_samples=_samples(preds))
    return metric.compute_metrics(metric.results)


def _mean_skip_nan(values):
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else float('nan')


def _by_hand(preds, unseen, num_classes=len(CLASSES)):
    """Expected numbers from explicit pixel counting (no mmseg code)."""
    inter = [0] * num_classes
    pred_n = [0] * num_classes
    gt_n = [0] * num_classes
    for p, g in zip(preds, GT):
        for i in range(g.shape[0]):
            for j in range(g.shape[1]):
                if g[i, j] == IGN:
                    continue
                gt_n[g[i, j]] += 1
                pred_n[p[i, j]] += 1
                if p[i, j] == g[i, j]:
                    inter[g[i, j]] += 1
    iou, acc = [], []
    for c in range(num_classes):
        union = pred_n[c] + gt_n[c] - inter[c]
        iou.append(inter[c] / union if union else float('nan'))
        acc.append(inter[c] / gt_n[c] if gt_n[c] else float('nan'))
    splits = dict(all=list(range(num_classes)),
                  seen=[c for c in range(num_classes) if c not in unseen],
                  unseen=sorted(unseen))
    out = {}
    for name, cs in splits.items():
        suffix = '' if name == 'all' else f'({name})'
        out['mIoU' + suffix] = 100 * _mean_skip_nan([iou[c] for c in cs])
        out['mAcc' + suffix] = 100 * _mean_skip_nan([acc[c] for c in cs])
        out['pAcc' + suffix] = 100 * sum(inter[c] for c in cs) / sum(gt_n[c] for c in cs)
    s, u = out['mIoU(seen)'], out['mIoU(unseen)']
    out['hIoU'] = 0.0 if s == 0 or u == 0 else 2 * s * u / (s + u)
    return out


KEYS = ['mIoU', 'mIoU(seen)', 'mIoU(unseen)', 'hIoU', 'pAcc', 'pAcc(seen)',
        'pAcc(unseen)', 'mAcc', 'mAcc(seen)', 'mAcc(unseen)']


@pytest.mark.parametrize('preds', [PRED_A, PRED_B, PRED_C], ids=['A', 'B', 'C'])
@pytest.mark.parametrize('unseen', [[2, 3], ['Cat', 'dog']], ids=['index', 'name'])
def test_matches_hand_counts(preds, unseen):
    got = _run(ZeroShotIoUMetric(unseen_classes=unseen), preds)
    assert set(got) == set(KEYS)
    expected = _by_hand(preds, unseen=[2, 3])
    for key in KEYS:
        assert got[key] == pytest.approx(expected[key], abs=0.01), key


def test_literal_values_case_a():
    # counts: intersect (4, 8, 4, 0), gt (6, 9, 6, 0), union (8, 11, 7, 0)
    got = _run(ZeroShotIoUMetric(unseen_classes=[2, 3]), PRED_A)
    expected = {
        'mIoU': 59.96, 'mIoU(seen)': 61.36, 'mIoU(unseen)': 57.14, 'hIoU': 59.18,
        'pAcc': 76.19, 'pAcc(seen)': 80.0, 'pAcc(unseen)': 66.67,
        'mAcc': 74.07, 'mAcc(seen)': 77.78, 'mAcc(unseen)': 66.67,
    }
    for key, val in expected.items():
        assert got[key] == pytest.approx(val, abs=0.01), key


def test_unseen_zero_gives_zero_hiou():
    got = _run(ZeroShotIoUMetric(unseen_classes=['cat', 'dog']), PRED_C)
    assert got['mIoU(unseen)'] == 0
    assert got['mIoU(seen)'] > 0
    assert got['hIoU'] == 0


@pytest.mark.parametrize('preds', [PRED_A, PRED_B, PRED_C], ids=['A', 'B', 'C'])
def test_overall_equals_mmseg_iou_metric(preds):
    got = _run(ZeroShotIoUMetric(unseen_classes=[2]), preds)
    ref = _run(IoUMetric(iou_metrics=['mIoU']), preds)
    # mmseg sums in float32, so allow one unit in the last (2nd) decimal
    assert got['mIoU'] == pytest.approx(float(ref['mIoU']), abs=0.0101)
    assert got['mAcc'] == pytest.approx(float(ref['mAcc']), abs=0.0101)
    assert got['pAcc'] == pytest.approx(float(ref['aAcc']), abs=0.0101)


def test_logs_class_and_summary_tables(monkeypatch):
    messages = []
    monkeypatch.setattr(zsm, 'print_log', lambda msg, logger=None, **kw: messages.append(msg))
    _run(ZeroShotIoUMetric(unseen_classes=['cat']), PRED_A)
    text = '\n'.join(messages)
    for word in ['Class', 'IoU', 'Acc', 'split', 'sky', 'unseen', 'pAcc', 'hIoU']:
        assert word in text
    summary = [m for m in messages if 'pAcc' in m]
    assert len(summary) == 1
    first_cells = [line.split('|')[1].strip()
                   for line in summary[0].splitlines() if line.startswith('|')]
    assert first_cells == ['split', 'all', 'seen', 'unseen']


def test_unknown_name_raises_listing_classes():
    metric = ZeroShotIoUMetric(unseen_classes=['cat', 'unicorn'])
    with pytest.raises(ValueError, match='unicorn') as err:
        metric.dataset_meta = dict(classes=CLASSES)
    assert 'sky' in str(err.value)
    # also when dataset_meta was bypassed and only compute_metrics sees it
    metric._dataset_meta = dict(classes=CLASSES)
    metric.process(data_batch=None, data_samples=_samples(PRED_A))
    with pytest.raises(ValueError, match='tree'):
        metric.compute_metrics(metric.results)


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        ZeroShotIoUMetric(unseen_classes=[])
    with pytest.raises(ValueError):
        ZeroShotIoUMetric(unseen_classes=[1], iou_metrics=['mDice'])
    with pytest.raises(ValueError, match='out of range'):
        ZeroShotIoUMetric(unseen_classes=[4]).dataset_meta = dict(classes=CLASSES)


def test_format_only_returns_empty(tmp_path):
    metric = ZeroShotIoUMetric(unseen_classes=['cat'], format_only=True,
                               output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=CLASSES)
    samples = _samples(PRED_A)
    for i, s in enumerate(samples):
        s['img_path'] = f'img{i}.jpg'
    metric.process(data_batch=None, data_samples=samples)
    assert metric.compute_metrics(metric.results) == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ['img0.png', 'img1.png']


def test_build_through_registry():
    from mmseg.registry import METRICS
    metric = METRICS.build(dict(type='ZeroShotIoUMetric', unseen_classes=['cat']))
    assert isinstance(metric, ZeroShotIoUMetric)
    assert metric.unseen_indices(CLASSES) == [2]
