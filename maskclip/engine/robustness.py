"""MaskCLIP's robustness evaluation (paper Sec. 4.1, Tables 1b and 4) as an mmengine loop, and
its report (Table 4's layout, a CSV, a plot of mIoU vs severity).

``test_cfg = dict(type='RobustnessLoop', corruptions=[...], severities=[...], seed=0)`` makes
``Runner.test()`` evaluate the clean test set, then the test set under every ImageNet-C
corruption and severity (``ImageCorruption`` right after loading), one test loop each, with the
model built and loaded once and the runner's hooks run as for any test. tools/robustness.py sets
it from its command line.
"""
from __future__ import annotations

import copy
import os
import os.path as osp
import time

from mmengine.logging import print_log
from mmengine.runner import BaseLoop, TestLoop
from mmseg.registry import LOOPS

from maskclip.datasets.transforms import CORRUPTIONS, with_corruption
from maskclip.report import aligned_table, format_duration, format_number, write_csv

CLEAN = 'clean'


def miou_of(metrics: dict) -> float:
    if 'mIoU' not in metrics:
        raise ValueError(f'The test evaluator reports no mIoU (it gives {sorted(metrics)}); '
                         "robustness needs test_evaluator=dict(type='IoUMetric', ...).")
    return float(metrics['mIoU'])


@LOOPS.register_module()
class RobustnessLoop(BaseLoop):
    """One test loop per condition: clean first, then every ``(corruption, severity)``.

    Args:
        runner / dataloader / evaluator: given by the Runner (the config's test ones).
        corruptions: ImageNet-C corruption names (:data:`CORRUPTIONS`).
        severities: levels 1-5.
        seed: the corruptions' seed (per image, see ``ImageCorruption``).
        channels: the channel order the corruption sees (``'rgb'``; the MaskCLIP authors fed
            BGR: ``'bgr'``, set by a config's ``corruption_channels``).
        fp16: as ``TestLoop``.

    ``run()`` returns ``{'<corruption>/<severity>/mIoU': value, 'clean/mIoU': value}``; the
    results are also kept as ``self.results`` (``{(corruption, severity): mIoU}``).
    """

    def __init__(self, runner, dataloader, evaluator, corruptions, severities, seed: int = 0,
                 channels: str = 'rgb', fp16: bool = False):
        self.dataloader_cfg = copy.deepcopy(dataloader)
        self.evaluator_cfg = evaluator
        self.conditions = [(CLEAN, None)] + [(c, s) for c in corruptions for s in severities]
        self.seed, self.channels, self.fp16 = seed, channels, fp16
        if len(self.conditions) > 1:  # no LoadImageFromFile: fails here, before the model runs
            with_corruption(self.dataloader_cfg['dataset'], *self.conditions[1], seed, channels)
        # the clean test set, as hooks read it (the dataset's classes, ...)
        super().__init__(runner, copy.deepcopy(dataloader))
        self.results = {}

    def condition_loop(self, corruption: str, severity) -> TestLoop:
        """A test loop over the test set, corrupted unless ``corruption`` is ``CLEAN``."""
        dataloader = copy.deepcopy(self.dataloader_cfg)
        if corruption != CLEAN:
            dataloader['dataset'] = with_corruption(dataloader['dataset'], corruption, severity,
                                                    self.seed, self.channels)
        return TestLoop(self.runner, dataloader, self.evaluator_cfg, fp16=self.fp16)

    def run(self) -> dict:
        start, metrics = time.time(), {}
        for index, (corruption, severity) in enumerate(self.conditions, 1):
            name = CLEAN if corruption == CLEAN else f'{corruption} severity {severity}'
            print_log(f'[robustness] {index}/{len(self.conditions)}: {name} ...',
                      logger='current')
            miou = miou_of(self.condition_loop(corruption, severity).run())
            self.results[corruption, severity] = miou
            metrics[f'{CLEAN}/mIoU' if corruption == CLEAN else
                    f'{corruption}/{severity}/mIoU'] = miou
            elapsed = time.time() - start
            left = elapsed / index * (len(self.conditions) - index)
            print_log(f'[robustness] {index}/{len(self.conditions)}: {name}: mIoU {miou:.2f} '
                      f'({format_duration(elapsed)} elapsed, about {format_duration(left)} left)',
                      logger='current')
        return metrics


def table_rows(results: dict, corruptions: list, severities: list) -> list:
    """``[key, label, [mIoU per severity], mean]`` rows: clean first, then each corruption."""
    clean = results[CLEAN, None]
    rows = [[CLEAN, CLEAN, [clean] * len(severities), clean]]
    for corruption in corruptions:
        values = [results[corruption, s] for s in severities]
        rows.append([corruption, CORRUPTIONS[corruption], values, sum(values) / len(values)])
    return rows


def format_table(rows: list, severities: list) -> str:
    """Table 4's layout: one row per corruption (and clean), one column per severity, mean."""
    header = ['Corruption'] + [f'level {s}' for s in severities] + ['mean']
    return aligned_table(header, [[label] + [format_number(v) for v in values]
                                  + [format_number(mean)] for _, label, values, mean in rows])


def csv_rows(rows: list) -> list:
    return [[key] + [f'{v:.2f}' for v in values] + [f'{mean:.2f}']
            for key, _, values, mean in rows]


def plot(path: str, rows: list, severities: list, title: str) -> None:
    """mIoU vs severity, one line per corruption, the clean mIoU dashed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.axhline(rows[0][3], color='black', linestyle='--', label=CLEAN)
    for _, label, values, _ in rows[1:]:
        ax.plot(severities, values, marker='o', label=label)
    ax.set(xlabel='severity', ylabel='mIoU', xticks=severities, title=title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize='small', loc='best')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(rows: list, config: str, seed: int, severities: list, out_dir: str) -> None:
    """Print Table 4's layout; write robustness.csv and robustness.png to ``out_dir``."""
    print(f'\nmIoU under ImageNet-C corruptions ({osp.basename(config)}, seed {seed})')
    print(format_table(rows, severities), flush=True)
    os.makedirs(out_dir, exist_ok=True)
    write_csv(osp.join(out_dir, 'robustness.csv'),
              ['corruption'] + [f'severity {s}' for s in severities] + ['mean'], csv_rows(rows))
    plot(osp.join(out_dir, 'robustness.png'), rows, severities,
         osp.splitext(osp.basename(config))[0])
    print(f'Saved {osp.join(out_dir, "robustness.csv")} and robustness.png', flush=True)
