"""Runs: the selected rows grouped into tool invocations, their command lines, their execution.

Rows with the same run type, config and options share one run (the three zero-shot metrics of a
dataset come from one training), and each run is a subprocess of the repository's tools, started
from the repository root:

* ``eval``: ``tools/test.py CONFIG --work-dir W`` (training-free MaskCLIP);
* ``train``: ``tools/train.py CONFIG --work-dir W/train``, then ``tools/test.py`` on the final
  checkpoint (``W/train/last_checkpoint``; for a multi-stage config the last stage's
  ``W/train/<stage>/stage_done.json``, tested with that stage's config);
* ``robustness``: ``tools/robustness.py CONFIG --corruptions ... --severities ...`` once per
  config for all its selected corruptions x severities (clean rows are an ``eval`` run).

``args`` is the namespace of .dev_scripts/reproduce.py (``random_weights``, ``clip_weights``,
``cfg_options``, ``gpus``, ``resume``, ``verbose``, ``stage_names``). The metric is read from the
JSON that mmengine writes in the test work dir (``W/<timestamp>/<timestamp>.json``) or from
``robustness.csv``.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from maskclip.reproduction.configs import recipe_gpus, split_options, stages_of
from maskclip.reproduction.table import CLEAN, CORRUPTIONS, ROOT, Row, is_number


@dataclass
class Run:
    kind: str             # eval | train | robustness
    config: str
    options: List[str]    # the rows' cfg_options as key=value
    rows: List[Row] = field(default_factory=list)
    corruptions: List[str] = field(default_factory=list)
    severities: List[int] = field(default_factory=list)
    work_dir: str = ''

    @property
    def name(self) -> str:
        stem = osp.splitext(osp.basename(self.config))[0]
        if not self.options:
            return f'{self.kind}_{stem}'
        digest = hashlib.sha1('\n'.join(self.options).encode()).hexdigest()[:8]
        return f'{self.kind}_{stem}_{digest}'


def plan_runs(rows: Sequence[Row], work_dir: str) -> List[Run]:
    """Group rows into runs; a clean robustness row is the eval run of its config."""
    runs: Dict[tuple, Run] = {}
    for row in rows:
        kind = 'eval' if row.run == 'robustness' and row.corruption == CLEAN else row.run
        key = (kind, row.config, tuple(row.options))
        run = runs.setdefault(key, Run(kind, row.config, row.options))
        run.rows.append(row)
        if kind == 'robustness':
            if row.corruption not in run.corruptions:
                run.corruptions.append(row.corruption)
            if row.severity not in run.severities:
                run.severities.append(row.severity)
    for run in runs.values():
        run.corruptions.sort(key=CORRUPTIONS.index)
        run.severities.sort()
        run.work_dir = osp.join(work_dir, run.name)
    return list(runs.values())


# ------------------------------------------------------------------------- command lines
def _weight_args(args) -> List[str]:
    if args.random_weights:
        return ['--random-weights']
    return ['--clip-weights', args.clip_weights] if args.clip_weights else []


def _options_arg(options: Sequence[str]) -> List[str]:
    return ['--cfg-options', *options] if options else []


def _tool(args, script: str, config: str, extra_positional=(), gpus=None) -> List[str]:
    """The command line start of tools/<script> (dist_*.sh / torchrun with more than one GPU:
    ``gpus``, else ``--gpus``)."""
    gpus = gpus or args.gpus
    if gpus > 1 and script in ('test.py', 'train.py'):
        launcher = 'tools/dist_test.sh' if script == 'test.py' else 'tools/dist_train.sh'
        return ['bash', launcher, config, str(gpus), *extra_positional]
    if gpus > 1:
        return [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={gpus}',
                f'tools/{script}', config, *extra_positional, '--launcher', 'pytorch']
    return [sys.executable, f'tools/{script}', config, *extra_positional]


def run_options(run: Run, args) -> List[str]:
    """The row options, then ``--cfg-options`` (without a ``<stage>.`` option of a multi-stage
    config of the selection when ``run``'s config has no stages)."""
    extra = list(args.cfg_options or [])
    if not stages_of(run.config):
        names = getattr(args, 'stage_names', set())
        extra = [o for o in extra if o.partition('=')[0].partition('.')[0] not in names]
    return list(run.options) + extra


def test_step(run: Run, args, checkpoint: Optional[str]) -> tuple:
    """(argv, test work dir) of the evaluation of ``run`` (after training: of its checkpoint)."""
    options = run_options(run, args)
    config = run.config
    if run.kind == 'train':
        stages = stages_of(run.config)
        if stages:  # test the last stage with its own (unprefixed) and the common options
            common, per_stage = split_options(options, stages)
            name, config = stages[-1]
            options = common + per_stage[name]
        work_dir = osp.join(run.work_dir, 'test')
        positional = [checkpoint]
    else:
        work_dir, positional = run.work_dir, []
    argv = (_tool(args, 'test.py', config, positional) + ['--work-dir', work_dir]
            + _weight_args(args) + _options_arg(options))
    return argv, work_dir


def train_steps(run: Run, args) -> List[List[str]]:
    """The training command(s) of ``run``: each on the GPU count its recipe declares
    (``recipe_gpus``; ``--gpus`` where none is declared); a multi-stage config whose stages
    declare different counts trains stage by stage (``--stages NAME``)."""
    options = run_options(run, args)
    tail = (['--work-dir', osp.join(run.work_dir, 'train')] + (['--resume'] if args.resume else [])
            + _weight_args(args) + _options_arg(options))
    stages = stages_of(run.config)
    gpus = [recipe_gpus(config) for _, config in stages] or [recipe_gpus(run.config)]
    if len(set(gpus)) == 1:
        return [_tool(args, 'train.py', run.config, gpus=gpus[0]) + tail]
    return [_tool(args, 'train.py', run.config, gpus=count) + ['--stages', name] + tail
            for (name, _), count in zip(stages, gpus)]


def robustness_step(run: Run, args) -> List[str]:
    options = run_options(run, args)
    return (_tool(args, 'robustness.py', run.config)
            + ['--corruptions', *run.corruptions,
               '--severities', *map(str, run.severities),
               '--work-dir', run.work_dir, '--out-dir', run.work_dir]
            + _weight_args(args) + _options_arg(options))


def final_checkpoint(run: Run) -> tuple:
    """(checkpoint path or None, where it is recorded) after ``run``'s training."""
    from maskclip import stages as lib
    train_dir = osp.join(run.work_dir, 'train')
    stages = stages_of(run.config)
    if stages:
        stage_dir = osp.join(train_dir, stages[-1][0])
        return lib.finished_checkpoint(stage_dir), osp.join(stage_dir, lib.DONE_FILE)
    return lib.last_checkpoint(train_dir), osp.join(train_dir, 'last_checkpoint')


def show(argv: Sequence[str]) -> str:
    return shlex.join(argv)


def dry_run_commands(run: Run, args) -> List[str]:
    """The command lines of ``run``, with a placeholder for a checkpoint known after training."""
    if run.kind == 'robustness':
        return [show(robustness_step(run, args))]
    if run.kind == 'eval':
        return [show(test_step(run, args, None)[0])]
    _, record = final_checkpoint(run)
    placeholder = f'<checkpoint recorded in {record}>'
    return [show(argv) for argv in train_steps(run, args)] + [
        show(test_step(run, args, placeholder)[0])]


# ------------------------------------------------------------------------------- metrics
def metric_files(work_dir: str) -> set:
    """mmengine's per-run metrics JSON files: ``<work_dir>/<timestamp>/<timestamp>.json``."""
    return {path for path in glob.glob(osp.join(work_dir, '*', '*.json'))
            if osp.basename(osp.dirname(path)) == osp.splitext(osp.basename(path))[0]}


def read_metrics(work_dir: str, before: set) -> dict:
    """The metrics of the test that wrote the newest JSON not in ``before``."""
    new = sorted(metric_files(work_dir) - before, key=osp.getmtime)
    if not new:
        raise RuntimeError(f'no metrics JSON (<timestamp>/<timestamp>.json) appeared in '
                           f'{work_dir}')
    with open(new[-1]) as f:
        text = f.read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # one JSON object per line: the last is the test's
        return json.loads(text.splitlines()[-1])


def read_robustness(out_dir: str) -> dict:
    """``{(corruption, severity): mIoU}`` from tools/robustness.py's robustness.csv."""
    results = {}
    with open(osp.join(out_dir, 'robustness.csv'), newline='') as f:
        for record in csv.DictReader(f):
            for column, value in record.items():
                match = re.fullmatch(r'severity (\d)', column or '')
                if match:
                    results[record['corruption'], int(match.group(1))] = float(value)
    return results


# ----------------------------------------------------------------------------- execution
def log(message: str) -> None:
    print(f'[reproduce] {message}', flush=True)


def execute(argv: List[str], log_path: str, verbose: bool) -> int:
    """Run one tool from the repository root; its output goes to ``log_path`` (and stdout)."""
    os.makedirs(osp.dirname(log_path), exist_ok=True)
    log(f'$ {show(argv)}')
    log(f'  log: {log_path}')
    with open(log_path, 'w') as out:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            out.write(line)
            if verbose:
                sys.stdout.write(line)
        code = process.wait()
    if code != 0:
        with open(log_path) as f:
            tail = f.read().splitlines()[-25:]
        log(f'  exit code {code}; the end of {log_path}:\n' + '\n'.join(tail))
    return code


def execute_run(run: Run, args) -> dict:
    """Run one run; ``{row id: value}`` (a float, or an error string)."""
    def fail(reason):
        return {row.id: reason for row in run.rows}

    if run.kind == 'robustness':
        stale = osp.join(run.work_dir, 'robustness.csv')
        if osp.isfile(stale):
            os.remove(stale)
        if execute(robustness_step(run, args), osp.join(run.work_dir, 'robustness.log'),
                   args.verbose):
            return fail('failed')
        results = read_robustness(run.work_dir)
        return {row.id: results.get((row.corruption, row.severity), 'no result')
                for row in run.rows}
    checkpoint = None
    if run.kind == 'train':
        steps = train_steps(run, args)
        logs = [f'train_{i}.log' for i in range(1, 1 + len(steps))]
        logs = logs if len(steps) > 1 else ['train.log']
        if any(execute(argv, osp.join(run.work_dir, name), args.verbose)
               for argv, name in zip(steps, logs)):
            return fail('failed (training)')
        checkpoint, record = final_checkpoint(run)
        if checkpoint is None:
            log(f'  no final checkpoint recorded in {record}')
            return fail('failed (no checkpoint)')
    argv, work_dir = test_step(run, args, checkpoint)
    before = metric_files(work_dir)
    if execute(argv, osp.join(run.work_dir, 'test.log'), args.verbose):
        return fail('failed')
    try:
        metrics = read_metrics(work_dir, before)
    except (RuntimeError, ValueError) as error:
        log(f'  {error}')
        return fail('failed (no metrics)')
    out = {}
    for row in run.rows:
        value = metrics.get(row.metric)
        out[row.id] = float(value) if is_number(value) else \
            f'no {row.metric} (metrics: {", ".join(sorted(metrics))})'
    return out
