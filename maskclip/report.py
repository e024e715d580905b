"""Tables of numbers as people read them: one writer for every report of the library.

tools/eval_all.py (published vs ours on the eight benchmarks), tools/robustness.py (Table 4's
layout) and the reproduction runner (.dev_scripts/reproduce.py) print and save their results
through these functions, so every table looks the same: pipe-separated, aligned, valid Markdown
on the console and in ``.md`` files, with a CSV twin for spreadsheets and plots.

Imports nothing heavy (no torch, mmcv or mmseg).
"""
from __future__ import annotations

import csv
import os
import os.path as osp
from typing import Optional, Sequence


def format_duration(seconds: float) -> str:
    """``H:MM:SS``, for progress lines."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{seconds:02d}'


def format_number(value, digits: int = 2, signed: bool = False) -> str:
    """A cell: floats with ``digits`` decimals (``+`` sign if ``signed``), ``-`` for None,
    anything else (an int, an error message) as text."""
    if isinstance(value, bool) or value is None:
        return '-' if value is None else str(value)
    if isinstance(value, float):
        return f'{value:+.{digits}f}' if signed else f'{value:.{digits}f}'
    return str(value)  # ints (sizes, counts) stay exact


def markdown_cell(text) -> str:
    """``text`` as one Markdown table cell (pipes escaped, one line)."""
    return str(text).replace('|', '\\|').replace('\n', ' ')


def aligned_table(header: Sequence[str], rows: Sequence[Sequence], left_columns: int = 1) -> str:
    """A Markdown table padded to align on a console: the first ``left_columns`` columns
    left-aligned (labels), the others right-aligned (numbers). ``rows`` hold strings (format
    numbers with :func:`format_number`)."""
    cells = [[markdown_cell(c) for c in header]] + [[markdown_cell(c) for c in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]

    def line(items):
        return '| ' + ' | '.join(item.ljust(w) if i < left_columns else item.rjust(w)
                                 for i, (item, w) in enumerate(zip(items, widths))) + ' |'

    rule = '|' + '|'.join(('-' * (w + 2)) if i < left_columns else ('-' * (w + 1) + ':')
                          for i, w in enumerate(widths)) + '|'
    return '\n'.join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def write_csv(path: str, header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """``rows`` (strings or numbers; None as empty) to ``path``; returns the path."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for row in rows:
            writer.writerow(['' if value is None else value for value in row])
    return path


def write_markdown(path: str, title: str, table: str, note: Optional[str] = None) -> str:
    """A Markdown report: ``# title``, an optional paragraph, the table; returns the path."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f'# {title}\n\n' + (f'{note}\n\n' if note else '') + table + '\n')
    return path
