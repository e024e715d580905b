"""Seen / unseen / harmonic IoU for zero-shot segmentation (``ZeroShotIoUMetric``).

Why: MaskCLIP+ is also evaluated in the transductive zero-shot setting (paper
Tables 2 and 7), where the classes are split into *seen* and *unseen* ones and the
results are reported as mIoU over each split plus their harmonic mean (hIoU).
mmseg's ``IoUMetric`` only reports numbers over all classes, so this subclass
reuses its per-image ``process`` (area_intersect, area_union, area_pred_label,
area_label per class) and only replaces ``compute_metrics``.

Definitions (per class c, areas summed over the whole dataset, ignore_index
pixels dropped; every reported number is in percent rounded to 2 decimals):

* IoU_c = intersect_c / union_c, NaN when union_c == 0 (class absent from both
  ground truth and prediction); Acc_c = intersect_c / label_c, NaN when
  label_c == 0. This is exactly mmseg's ``IoUMetric``.
* mIoU / mAcc over a class subset S = nanmean of IoU_c / Acc_c over c in S
  (NaN entries are skipped, as mmseg does; ``nan_to_num`` replaces them first).
* pAcc over S = sum_{c in S} intersect_c / sum_{c in S} label_c, i.e. the pixel
  accuracy on pixels whose ground truth is in S. pAcc over all classes equals
  mmseg's aAcc.
* hIoU = 2 * mIoU(seen) * mIoU(unseen) / (mIoU(seen) + mIoU(unseen)), 0 if either
  is 0.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable


def _nanmean(values: np.ndarray) -> float:
    """nanmean that returns NaN (without a RuntimeWarning) for empty/all-NaN."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.all(np.isnan(values)):
        return float('nan')
    return float(np.nanmean(values))


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else float('nan')


def _pct(value: float) -> float:
    return float(np.round(value * 100, 2))


@METRICS.register_module()
class ZeroShotIoUMetric(IoUMetric):
    """IoU metric that also reports seen / unseen splits and their harmonic mean.

    Args:
        unseen_classes (Sequence[str | int]): the unseen classes, by name
            (case-insensitive, matched against ``dataset_meta['classes']``) or by
            index into it. Must not be empty.
        **kwargs: ``IoUMetric``'s other arguments (ignore_index, nan_to_num, beta,
            collect_device, output_dir, format_only, prefix). ``iou_metrics`` is
            fixed to ``['mIoU']``.

    Returned keys: mIoU, mIoU(seen), mIoU(unseen), hIoU, pAcc, pAcc(seen),
    pAcc(unseen), mAcc, mAcc(seen), mAcc(unseen).
    """

    def __init__(self, unseen_classes: Sequence[Union[str, int]],
                 **kwargs) -> None:
        iou_metrics = kwargs.pop('iou_metrics', ['mIoU'])
        if isinstance(iou_metrics, str):
            iou_metrics = [iou_metrics]
        if list(iou_metrics) != ['mIoU']:
            raise ValueError("ZeroShotIoUMetric only supports iou_metrics="
                             f"['mIoU'], got {iou_metrics!r}")
        if isinstance(unseen_classes, (str, int, np.integer)):
            unseen_classes = [unseen_classes]
        unseen_classes = list(unseen_classes)
        if not unseen_classes:
            raise ValueError('unseen_classes must name at least one class')
        for c in unseen_classes:
            if isinstance(c, bool) or not isinstance(c, (str, int, np.integer)):
                raise TypeError('unseen_classes entries must be class names or '
                                f'indices, got {c!r}')
        super().__init__(iou_metrics=['mIoU'], **kwargs)
        self.unseen_classes = unseen_classes

    # Validate as soon as the evaluator hands over the dataset meta, so a typo
    # fails before a long test loop rather than after it.
    @IoUMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        if dataset_meta is not None and 'classes' in dataset_meta:
            self.unseen_indices(dataset_meta['classes'])

    def unseen_indices(self,
                       class_names: Optional[Sequence[str]] = None) -> List[int]:
        """Sorted indices of the unseen classes in ``class_names``.

        Raises ValueError for an unknown name or an out-of-range index.
        """
        if class_names is None:
            class_names = self.dataset_meta['classes']
        class_names = list(class_names)
        lookup = {}
        for i, name in enumerate(class_names):
            lookup.setdefault(str(name).strip().lower(), i)
        indices = set()
        for c in self.unseen_classes:
            if isinstance(c, str):
                key = c.strip().lower()
                if key not in lookup:
                    raise ValueError(
                        f'unseen class {c!r} is not a class of the dataset; '
                        f'its classes are: {class_names}')
                indices.add(lookup[key])
            else:
                idx = int(c)
                if not 0 <= idx < len(class_names):
                    raise ValueError(
                        f'unseen class index {idx} is out of range for a '
                        f'dataset with {len(class_names)} classes')
                indices.add(idx)
        return sorted(indices)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Compute all / seen / unseen metrics from ``IoUMetric.process`` output."""
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            logger.info(f'results are saved to {osp.dirname(self.output_dir)}')
            return OrderedDict()

        class_names = list(self.dataset_meta['classes'])
        num_classes = len(class_names)
        unseen_idx = self.unseen_indices(class_names)
        is_unseen = np.zeros(num_classes, dtype=bool)
        is_unseen[unseen_idx] = True
        splits = OrderedDict(
            [('all', np.ones(num_classes, dtype=bool)), ('seen', ~is_unseen),
             ('unseen', is_unseen)])

        results = tuple(zip(*results))
        assert len(results) == 4
        intersect, union, _, label = (
            sum(r).cpu().numpy().astype(np.float64) for r in results)

        with np.errstate(divide='ignore', invalid='ignore'):
            iou = intersect / union
            acc = intersect / label
        if self.nan_to_num is not None:
            iou = np.nan_to_num(iou, nan=self.nan_to_num)
            acc = np.nan_to_num(acc, nan=self.nan_to_num)

        summary = OrderedDict()
        for split, mask in splits.items():
            summary[split] = dict(
                mIoU=_nanmean(iou[mask]),
                mAcc=_nanmean(acc[mask]),
                pAcc=_ratio(intersect[mask].sum(), label[mask].sum()))

        seen_miou = summary['seen']['mIoU']
        unseen_miou = summary['unseen']['mIoU']
        if seen_miou == 0 or unseen_miou == 0:
            hiou = 0.0
        else:  # NaN propagates if a split has no evaluable class
            hiou = 2 * seen_miou * unseen_miou / (seen_miou + unseen_miou)

        metrics = OrderedDict()
        for name in ('mIoU', 'pAcc', 'mAcc'):
            metrics[name] = _pct(summary['all'][name])
            metrics[f'{name}(seen)'] = _pct(summary['seen'][name])
            metrics[f'{name}(unseen)'] = _pct(summary['unseen'][name])
            if name == 'mIoU':
                metrics['hIoU'] = _pct(hiou)

        # per-class table, like IoUMetric's, plus the split of each class
        class_table = PrettyTable()
        class_table.add_column('Class', class_names)
        class_table.add_column('IoU', np.round(iou * 100, 2).tolist())
        class_table.add_column('Acc', np.round(acc * 100, 2).tolist())
        class_table.add_column(
            'split', ['unseen' if u else 'seen' for u in is_unseen])
        print_log('per class results:', logger)
        print_log('\n' + class_table.get_string(), logger=logger)

        summary_table = PrettyTable()
        summary_table.field_names = ['split', 'classes', 'mIoU', 'mAcc', 'pAcc']
        for split, mask in splits.items():
            summary_table.add_row([
                split,
                int(mask.sum()),
                _pct(summary[split]['mIoU']),
                _pct(summary[split]['mAcc']),
                _pct(summary[split]['pAcc']),
            ])
        print_log('zero-shot summary:', logger)
        print_log('\n' + summary_table.get_string(), logger=logger)
        print_log(f"hIoU (harmonic mean of seen and unseen mIoU): "
                  f"{metrics['hIoU']:.2f}", logger=logger)
        return metrics
