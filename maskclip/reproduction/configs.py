"""What the runner needs from a row's config: its stages, its options per stage, its size facts.

A multi-stage config (ReCLIP's rectify -> distill) is trained as a whole but tested with its last
stage's config, and ``<stage>.key=value`` options reach one stage only; the model-zoo READMEs
show each config's crop / test size and schedule. Configs are parsed by mmengine without their
custom imports, and nothing here imports torch.
"""
from __future__ import annotations

import os.path as osp
import re
from typing import Dict, Sequence

from .table import ROOT, Row, TableError


_CONFIG_CACHE: Dict[str, object] = {}


def read_config(config: str):
    """The config (repository-relative path) parsed by mmengine, without custom imports."""
    if config not in _CONFIG_CACHE:
        from mmengine.config import Config
        _CONFIG_CACHE[config] = Config.fromfile(osp.join(ROOT, config),
                                                import_custom_modules=False)
    return _CONFIG_CACHE[config]


def recipe_gpus(config: str):
    """The GPU count a config's recipe assumes (its ``recipe_gpus``), or None."""
    return read_config(config).get('recipe_gpus')


def stages_of(config: str) -> list:
    """``[(name, repository-relative config)]`` of a multi-stage config, else ``[]``."""
    cfg = read_config(config)
    if 'stages' not in cfg:
        return []
    from maskclip.stages import read_stages
    return [(stage.name, osp.relpath(stage.config, ROOT)) for stage in read_stages(cfg)]


def check_row_configs(rows: Sequence[Row]) -> None:
    """Checks that need the configs parsed: they parse; multi-stage configs are trained."""
    problems = []
    for row in rows:
        try:
            stages = stages_of(row.config)
        except Exception as error:  # noqa: BLE001 - reported with the row
            problems.append(f'{row.id}: config {row.config} does not parse: {error}')
            continue
        if stages and row.run != 'train':
            problems.append(f'{row.id}: {row.config} is a multi-stage (training) config; '
                            f'run must be train, not {row.run}')
    if problems:
        raise TableError('\n  '.join([f'{len(problems)} problem(s):'] + problems))


def split_options(options: Sequence[str], stages: list) -> tuple:
    """``key=value`` strings -> (common, {stage: [unprefixed options]}), as tools/train.py."""
    names = [name for name, _ in stages]
    common, per_stage = [], {name: [] for name in names}
    for option in options:
        key, _, value = option.partition('=')
        head, _, rest = key.partition('.')
        if head in per_stage and rest:
            per_stage[head].append(f'{rest}={value}')
        else:
            common.append(option)
    return common, per_stage


def config_facts(config: str) -> tuple:
    """(crop / test size, schedule) of a config, from mmseg's naming convention."""
    stages = stages_of(config)
    if stages:
        facts = [config_facts(path) for _, path in stages]
        return ' / '.join(f[0] for f in facts), ' + '.join(f[1] for f in facts)
    name = osp.splitext(osp.basename(config))[0]
    multi = re.search(r'-ms-([\d-]+)$', name)
    if multi:
        crop = 'ensemble of ' + ' + '.join(multi.group(1).split('-'))
    else:
        sizes = re.findall(r'(\d+x\d+)', name)
        crop = sizes[-1] if sizes else '-'
    schedule = re.search(r'_(\d+)xb(\d+)-(\d+)([ke])_', name)
    if not schedule:
        return crop, 'training-free'
    gpus, batch, length, unit = schedule.groups()
    length = f'{length}k iters' if unit == 'k' else f'{length} epochs'
    return crop, f'{length}, {gpus}x{batch}'
