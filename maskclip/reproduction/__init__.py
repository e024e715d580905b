"""Reproducing the papers' tables from configs/reproduction/published.yaml (tools/reproduce.py).

One module per job:

* :mod:`.table`: the table file (rows, validation, selection) and its constants;
* :mod:`.configs`: what a row's config tells (stages, per-stage options, crop and schedule);
* :mod:`.runs`: rows grouped into runs of tools/test.py, train.py and robustness.py, their
  command lines, execution and metric reading;
* :mod:`.report`: published vs obtained, on the console and as Markdown + JSON reports;
* :mod:`.zoo`: the model-zoo READMEs' results tables generated from the table.

None of them imports torch, mmcv or mmseg at import time (mmengine's config parser is imported
when needed), and importing ``maskclip`` imports nothing either, so tools/reproduce.py lists
rows, prints dry runs and checks the READMEs in about a second; the tools it runs import the
heavy libraries themselves.
"""
from .configs import check_row_configs, config_facts, split_options, stages_of
from maskclip.report import format_duration

from .report import (console_table, difference, format_result, json_report,
                     markdown_report, published_text)
from .runs import Run, dry_run_commands, execute_run, log, plan_runs
from .table import (CLEAN, CORRUPTION_NAMES, CORRUPTIONS, DEFAULT_TABLE, OPTIONAL, PAPERS,
                    REQUIRED, ROOT, RUN_TYPES, Row, Table, TableError, is_number, load_table,
                    select_rows)
from .zoo import ZOO_READMES, load_results, write_zoo, zoo_readme_of, zoo_section

__all__ = [
    'CLEAN', 'CORRUPTIONS', 'CORRUPTION_NAMES', 'DEFAULT_TABLE', 'OPTIONAL', 'PAPERS', 'REQUIRED',
    'ROOT', 'RUN_TYPES', 'Row', 'Run', 'Table', 'TableError', 'ZOO_READMES', 'check_row_configs',
    'config_facts', 'console_table', 'difference', 'dry_run_commands', 'execute_run',
    'format_duration', 'format_result', 'is_number', 'json_report', 'load_results', 'load_table',
    'log', 'markdown_report', 'plan_runs', 'published_text', 'select_rows', 'split_options',
    'stages_of', 'write_zoo', 'zoo_readme_of', 'zoo_section'
]
