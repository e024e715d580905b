"""The table of published numbers (configs/reproduction/published.yaml): rows, checks, selection.

Every row is one published number with the config (and optional ``cfg_options``) that reproduces
it; ``missing`` lists published numbers without a config. :func:`load_table` checks the whole
file before anything runs and names every bad row at once, so a typo in the YAML fails in a
second instead of after hours of training. The checks that need the configs parsed are in
:mod:`.configs`.

This module does not import torch, mmcv or mmseg: listing rows, dry runs and the model-zoo check
start in about a second.
"""
from __future__ import annotations

import argparse
import fnmatch
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from maskclip.corruptions import CORRUPTIONS as _CORRUPTIONS

# the repository root: table files, configs and tools/ are given relative to it
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_TABLE = 'configs/reproduction/published.yaml'

PAPERS = {
    'maskclip': 'MaskCLIP (Zhou et al., ECCV 2022)',
    'reclip': 'ReCLIP (Wang and Kang, CVPR 2024)',
    'sclip': 'SCLIP (Wang et al., ECCV 2024)',
    'clearclip': 'ClearCLIP (Lan et al., ECCV 2024)',
    'naclip': 'NACLIP (Hajimiri et al., WACV 2025)',
}
RUN_TYPES = ('eval', 'train', 'robustness')
REQUIRED = ('id', 'paper', 'table', 'row', 'dataset', 'metric', 'published', 'config', 'run')
OPTIONAL = ('cfg_options', 'corruption', 'severity', 'backbone', 'note')
MISSING_REQUIRED = ('id', 'paper', 'table', 'row', 'dataset', 'published', 'reason')
CLEAN = 'clean'
ID_PATTERN = re.compile(r'^[a-z0-9][a-z0-9.-]*$')


# {corruption: its row name in MaskCLIP's Table 4}, in that table's order
CORRUPTION_NAMES = dict(_CORRUPTIONS)
CORRUPTIONS = tuple(CORRUPTION_NAMES)


class TableError(ValueError):
    """The table file is invalid; the message names the bad rows."""


@dataclass
class Row:
    id: str
    paper: str
    table: str
    row: str
    dataset: str
    metric: str
    published: float
    config: str
    run: str
    cfg_options: Dict[str, object] = field(default_factory=dict)
    corruption: Optional[str] = None
    severity: Optional[int] = None
    backbone: Optional[str] = None
    note: Optional[str] = None

    @property
    def options(self) -> List[str]:
        """``cfg_options`` as ``key=value`` strings for ``--cfg-options``."""
        return [f'{key}={format_value(value)}' for key, value in self.cfg_options.items()]


@dataclass
class Table:
    path: str
    tables: Dict[str, Dict[str, str]]
    rows: List[Row]
    missing: List[dict]

    def caption(self, paper: str, table: str) -> str:
        return self.tables[paper][table]


def format_value(value) -> str:
    """A YAML value as mmengine's DictAction reads it back (``None``, ``True``, ``[1,2]``)."""
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(format_value(v) for v in value) + ']'
    return str(value)


def parse_options(options: Sequence[str]) -> dict:
    """``key=value`` strings parsed as tools/*.py parse ``--cfg-options``."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--cfg-options', *options] if options else []).cfg_options


def published_text(row: Row) -> str:
    """As printed in the papers: one decimal, or two where the paper gives two (Table 8)."""
    value = row.published
    return f'{value:.1f}' if round(value, 1) == value else f'{value:.2f}'


def is_number(value) -> bool:
    """A metric value (an obtained result rather than an error string or None)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_row(entry, index: int, tables: dict) -> List[str]:
    """Problems of one row (empty: valid)."""
    if not isinstance(entry, dict):
        return [f'row {index}: expected a mapping, got {entry!r}']
    name = f"row {index} ({entry['id']})" if isinstance(entry.get('id'), str) else f'row {index}'
    problems = []
    missing = [key for key in REQUIRED if entry.get(key) is None]
    if missing:
        problems.append(f'missing required key(s) {", ".join(missing)}')
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        problems.append(f'unknown key(s) {", ".join(map(str, unknown))} (allowed: '
                        f'{", ".join(REQUIRED + OPTIONAL)})')
    if isinstance(entry.get('id'), str) and not ID_PATTERN.match(entry['id']):
        problems.append('id must be lower-case letters, digits, dots and dashes')
    paper, table = entry.get('paper'), entry.get('table')
    if paper is not None and paper not in PAPERS:
        problems.append(f"paper '{paper}' is not one of {', '.join(PAPERS)}")
    elif paper is not None and table is not None and str(table) not in tables.get(paper, {}):
        problems.append(f"table '{table}' of {paper} is not listed under `tables`")
    if 'published' in entry and not is_number(entry['published']):
        problems.append(f"published must be a number, got {entry['published']!r}")
    config = entry.get('config')
    if isinstance(config, str) and not osp.isfile(osp.join(ROOT, config)):
        problems.append(f'config {config} does not exist')
    run = entry.get('run')
    if run is not None and run not in RUN_TYPES:
        problems.append(f"run '{run}' is not one of {', '.join(RUN_TYPES)}")
    corruption, severity = entry.get('corruption'), entry.get('severity')
    if run == 'robustness':
        if corruption not in CORRUPTIONS + (CLEAN, ):
            problems.append(f"robustness rows need corruption: one of {', '.join(CORRUPTIONS)} "
                            f'or {CLEAN}; got {corruption!r}')
        elif corruption == CLEAN and severity is not None:
            problems.append('a clean row has severity: null')
        elif corruption != CLEAN and severity not in (1, 2, 3, 4, 5):
            problems.append(f'robustness rows need severity: 1-5, got {severity!r}')
        if entry.get('metric') not in (None, 'mIoU'):
            problems.append('tools/robustness.py reports mIoU only')
    elif corruption is not None or severity is not None:
        problems.append('corruption / severity belong to robustness rows only')
    options = entry.get('cfg_options')
    if options is not None:
        if not isinstance(options, dict) or not options:
            problems.append('cfg_options must be a non-empty mapping of config keys to values')
        else:
            for key, value in options.items():
                if not isinstance(key, str) or not key or ' ' in key or '=' in key:
                    problems.append(f'cfg_options key {key!r} is not a dotted config key')
                    continue
                text = f'{key}={format_value(value)}'
                try:
                    parsed = parse_options([text])
                except Exception as error:  # noqa: BLE001 - reported with the row
                    problems.append(f'cfg_options {text!r} cannot be parsed: {error}')
                    continue
                if parsed != {key: value}:
                    problems.append(f'cfg_options {key}: {value!r} would reach the tools as '
                                    f'{parsed.get(key)!r} (quote it differently or use a list)')
    return [f'{name}: {problem}' for problem in problems]


def load_table(path: str = DEFAULT_TABLE) -> Table:
    """Read and validate the table file; :class:`TableError` lists every bad row."""
    import yaml
    full = path if osp.isabs(path) or osp.isfile(path) else osp.join(ROOT, path)
    if not osp.isfile(full):
        raise TableError(f'{path}: no such table file')
    with open(full) as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or not isinstance(data.get('rows'), list):
        raise TableError(f'{path}: expected a mapping with a `rows` list (and `tables`, '
                         '`missing`)')
    tables = data.get('tables') or {}
    if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
        raise TableError(f'{path}: `tables` must map paper -> {{table: caption}}')
    tables = {paper: {str(k): str(v) for k, v in entries.items()}
              for paper, entries in tables.items()}
    problems, rows, seen = [], [], {}
    for index, entry in enumerate(data['rows']):
        found = _check_row(entry, index, tables)
        problems += found
        if isinstance(entry, dict) and isinstance(entry.get('id'), str):
            if entry['id'] in seen:
                problems.append(f"row {index} ({entry['id']}): duplicate id (also row "
                                f"{seen[entry['id']]})")
            seen.setdefault(entry['id'], index)
        if not found:
            values = dict(entry, table=str(entry['table']), published=float(entry['published']),
                          cfg_options=dict(entry.get('cfg_options') or {}))
            rows.append(Row(**values))
    missing = data.get('missing') or []
    for index, entry in enumerate(missing):
        name = f"missing {index} ({entry.get('id')})" if isinstance(entry, dict) else \
            f'missing {index}'
        if not isinstance(entry, dict) or any(entry.get(k) is None for k in MISSING_REQUIRED):
            problems.append(f'{name}: needs the keys {", ".join(MISSING_REQUIRED)}')
        elif entry['id'] in seen:
            problems.append(f"{name}: duplicate id (also row {seen[entry['id']]})")
        else:
            seen[entry['id']] = f'missing {index}'
    if problems:
        raise TableError(f'{path}: {len(problems)} problem(s):\n  ' + '\n  '.join(problems))
    return Table(path, tables, rows, missing)


def select_rows(table: Table, patterns=None, tables=None, run_types=None) -> List[Row]:
    """Rows matching any id/glob of ``patterns``, any ``tables`` spec and a run type."""
    rows = list(table.rows)
    if patterns:
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(row.id, pattern) for row in rows):
                raise TableError(f"--rows {pattern}: no row id matches it (see --list)")
        rows = [row for row in rows if any(fnmatch.fnmatchcase(row.id, p) for p in patterns)]
    if tables:
        wanted = []
        for spec in tables:
            paper, _, name = spec.partition(':') if ':' in spec else (
                (spec, '', '') if spec in PAPERS else ('', '', spec))
            known = [(p, t) for p, entries in table.tables.items() for t in entries
                     if (not paper or p == paper) and (not name or t == name)]
            if not known:
                raise TableError(f'--tables {spec}: no such table; use PAPER:TABLE, PAPER or '
                                 f'TABLE with PAPER in {", ".join(PAPERS)}')
            wanted += known
        rows = [row for row in rows if (row.paper, row.table) in wanted]
    if run_types:
        rows = [row for row in rows if row.run in run_types]
    return rows
