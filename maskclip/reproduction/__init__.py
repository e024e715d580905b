"""The table of published numbers, configs/reproduction/published.yaml: every number the
library targets, with the config that reproduces it.

* :mod:`.table`: the table file (rows, validation, selection) and its constants;
* :mod:`.configs`: what a row's config tells (stages, per-stage options, crop and schedule).

The scripts that run rows and regenerate the model-zoo READMEs from the table are maintenance
scripts in .dev_scripts/ (reproduce.py, gather_models.py), as in MMSegmentation. Nothing here
imports torch, mmcv or mmseg at import time (mmengine's config parser is imported when needed),
so listing rows, dry runs and the README check start in about a second.
"""
from .configs import check_row_configs, config_facts, split_options, stages_of
from .table import (CLEAN, CORRUPTION_NAMES, CORRUPTIONS, DEFAULT_TABLE, OPTIONAL, PAPERS,
                    REQUIRED, ROOT, RUN_TYPES, Row, Table, TableError, is_number, load_table,
                    published_text, select_rows)

__all__ = [
    'CLEAN', 'CORRUPTIONS', 'CORRUPTION_NAMES', 'DEFAULT_TABLE', 'OPTIONAL', 'PAPERS', 'REQUIRED',
    'ROOT', 'RUN_TYPES', 'Row', 'Table', 'TableError', 'check_row_configs', 'config_facts',
    'is_number', 'load_table', 'published_text', 'select_rows', 'split_options', 'stages_of'
]
