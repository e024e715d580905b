"""Published vs obtained numbers: the console table, the Markdown report and its JSON twin.

The JSON twin is what ``.dev_scripts/gather_models.py --results`` reads back into the model-zoo
READMEs' "ours" column (its ``load_results``); it records whether the CLIP weights were
random, so a smoke run's numbers cannot get there. A row's value in ``results`` is a float, or
an error string where its run failed.
"""
from __future__ import annotations

import time
from typing import Optional, Sequence

from maskclip.report import aligned_table, format_duration, format_number, markdown_cell

from maskclip.reproduction.table import CLEAN, Row, Table, is_number, published_text


def format_result(value) -> str:
    if is_number(value):
        return f'{value:.2f}'
    return '-' if value is None else str(value)


def difference(row: Row, value) -> Optional[float]:
    return value - row.published if is_number(value) else None


def console_table(rows: Sequence[Row], results: dict) -> str:
    body = []
    for row in rows:
        value = results.get(row.id)
        body.append([row.id, row.metric, published_text(row), format_result(value),
                     format_number(difference(row, value), signed=True)])
    return aligned_table(['id', 'metric', 'published', 'ours', 'diff'], body, left_columns=2)


def _config_cell(row: Row) -> str:
    text = f'`{row.config}`'
    if row.options:
        text += ' ' + ' '.join(f'`{option}`' for option in row.options)
    if row.run == 'robustness' and row.corruption != CLEAN:
        text += f' ({row.corruption}, severity {row.severity})'
    return text


def markdown_report(rows: Sequence[Row], results: dict, args, table: Table,
                    runs: int, seconds: float) -> str:
    weights = ('random CLIP weights: every obtained number is MEANINGLESS'
               if args.random_weights else
               f'CLIP weights {args.clip_weights}' if args.clip_weights else
               "CLIP weights as the configs say (or $MASKCLIP_CLIP_WEIGHTS)")
    lines = [
        '# Reproduction report', '',
        f'`python .dev_scripts/reproduce.py` on {time.strftime("%Y-%m-%d %H:%M:%S")}: {len(rows)} '
        f'row(s) of `{table.path}` in {runs} run(s), {format_duration(seconds)}; {weights}.',
    ]
    if args.cfg_options:
        lines.append(f'Extra options for every run: `{" ".join(args.cfg_options)}`.')
    failed = [row.id for row in rows if not is_number(results.get(row.id))]
    if failed:
        lines.append(f'Without a result: {", ".join(failed)}.')
    lines += ['', '| id | paper | table | row | dataset | metric | published | ours | diff | '
              'config |', '|---|---|---|---|---|---|---:|---:|---:|---|']
    for row in rows:
        value = results.get(row.id)
        diff = difference(row, value)
        lines.append('| ' + ' | '.join(markdown_cell(c) for c in [
            row.id, row.paper, row.table, row.row, row.dataset, row.metric, published_text(row),
            format_result(value), '-' if diff is None else f'{diff:+.2f}']) + ' | '
            + _config_cell(row) + ' |')
    return '\n'.join(lines) + '\n'


def json_report(rows: Sequence[Row], results: dict, args) -> dict:
    return dict(
        random_weights=bool(args.random_weights),
        rows=[dict(id=row.id, paper=row.paper, table=row.table, metric=row.metric,
                   published=row.published, ours=results.get(row.id)
                   if is_number(results.get(row.id)) else None,
                   status='ok' if is_number(results.get(row.id)) else results.get(row.id),
                   config=row.config, cfg_options=row.cfg_options) for row in rows])
