"""Reproduce the papers' tables: run rows of configs/reproduction/published.yaml, compare.

    python .dev_scripts/reproduce.py [--rows ID_OR_GLOB ...] [--tables PAPER:TABLE ...]
        [--run-types eval train robustness] [--all] [--list] [--dry-run]
        [--work-dir DIR] [--report report.md] [--clip-weights PATH | --random-weights]
        [--cfg-options k=v ...] [--gpus N] [--resume] [--verbose] [--table-file FILE]

Every row of the table file is one published number with the config (and optional
``cfg_options``) that reproduces it. The selected rows are grouped into runs, each a subprocess of
tools/test.py, train.py or robustness.py (see reproduction_runs.py beside this script). ``--clip-weights`` /
``--random-weights`` and ``--cfg-options`` are passed on to every subprocess (the latter after
the row's own options, so they win; a ``<stage>.`` prefix reaches one stage of a multi-stage
config). The published and obtained numbers are printed side by side with their difference and
written to a Markdown report (``--report``, default ``<work dir>/report.md``) plus a JSON twin
that ``.dev_scripts/gather_models.py --results`` puts into the model-zoo READMEs' "ours" column.

A maintenance script, kept outside the package as MMSegmentation keeps its benchmark scripts
in .dev_scripts/: the table itself (rows, checks, selection) is :mod:`maskclip.reproduction`;
the runs and the report are reproduction_runs.py and reproduction_report.py beside this file.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

DEFAULT_WORK_DIR = 'work_dirs/reproduce'


from reproduction_report import (console_table, difference, format_result, json_report,
                                 markdown_report)
from reproduction_runs import dry_run_commands, execute_run, log, plan_runs

from maskclip.report import format_duration
from maskclip.reproduction import (DEFAULT_TABLE, RUN_TYPES, TableError, check_row_configs,
                                   is_number, load_table, published_text, select_rows,
                                   stages_of)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run rows of the published-numbers table and compare with the papers.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Examples:\n'
               "  python .dev_scripts/reproduce.py --tables maskclip:1a --run-types eval\n"
               "  python .dev_scripts/reproduce.py --rows 'reclip-t7-*' --gpus 4\n"
               '  python .dev_scripts/reproduce.py --all --dry-run')
    parser.add_argument('--table-file', default=DEFAULT_TABLE,
                        help=f'the table of published numbers (default: {DEFAULT_TABLE})')
    select = parser.add_argument_group('row selection (combined with AND)')
    select.add_argument('--rows', nargs='+', metavar='ID_OR_GLOB',
                        help="row ids or shell globs, e.g. 'maskclip-t1a-*'")
    select.add_argument('--tables', nargs='+', metavar='SPEC',
                        help='PAPER:TABLE (maskclip:1a), PAPER (reclip) or TABLE (8)')
    select.add_argument('--run-types', nargs='+', choices=RUN_TYPES,
                        help='only rows of these run types')
    select.add_argument('--all', action='store_true', help='every row (needed to run without '
                        'another selection; --list and --dry-run default to every row)')
    parser.add_argument('--list', action='store_true', help='print the selected rows and exit')
    parser.add_argument('--dry-run', action='store_true', help='print the commands only')
    parser.add_argument('--work-dir', default=DEFAULT_WORK_DIR,
                        help=f'one sub-directory per run (default: {DEFAULT_WORK_DIR})')
    parser.add_argument('--report', help='Markdown report (default: <work dir>/report.md; a '
                        '.json twin is written beside it)')
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument('--clip-weights', metavar='PATH_OR_TAG',
                         help='passed to every tool (default: $MASKCLIP_CLIP_WEIGHTS / config)')
    weights.add_argument('--random-weights', action='store_true',
                         help='smoke run with random CLIP weights; the numbers are meaningless')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='passed to every tool after the row\'s own options; '
                             '<stage>.key=value reaches one stage of a multi-stage config')
    parser.add_argument('--gpus', type=int, default=1,
                        help='GPUs per run: > 1 uses tools/dist_train.sh / dist_test.sh')
    parser.add_argument('--resume', action='store_true',
                        help='pass --resume to tools/train.py (continue interrupted trainings)')
    parser.add_argument('--verbose', action='store_true', help="echo the tools' output")
    args = parser.parse_args(argv)
    if args.gpus < 1:
        parser.error('--gpus must be at least 1')
    for option in args.cfg_options or []:
        if '=' not in option:
            parser.error(f'--cfg-options {option}: expected KEY=VALUE')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        table = load_table(args.table_file)
        selected = bool(args.rows or args.tables or args.run_types)
        if not (selected or args.all or args.list or args.dry_run):
            raise TableError('select rows with --rows / --tables / --run-types, or --all for '
                             f'every one of the {len(table.rows)} rows (see --list)')
        rows = select_rows(table, args.rows, args.tables, args.run_types)
        if not rows:
            raise TableError('no row matches the selection')
        check_row_configs(rows)
    except TableError as error:
        print(f'ERROR: {error}', file=sys.stderr)
        return 2
    if args.list:
        for row in rows:
            print(f'{row.id:55s} {row.run:10s} {row.metric:12s} {published_text(row):>6s}  '
                  f'{row.config}')
        print(f'{len(rows)} row(s)')
        return 0
    work_dir = osp.abspath(args.work_dir)
    runs = plan_runs(rows, work_dir)
    args.stage_names = {name for run in runs for name, _ in stages_of(run.config)}
    log(f'{len(rows)} row(s) of {args.table_file} in {len(runs)} run(s); work dir {work_dir}')
    if args.dry_run:
        for number, run in enumerate(runs, 1):
            log(f'run {number}/{len(runs)}: {run.kind} {run.config} (rows: '
                f'{", ".join(row.id for row in run.rows)})')
            for command in dry_run_commands(run, args):
                print(command, flush=True)
        return 0
    results, start, done = {}, time.time(), 0
    for number, run in enumerate(runs, 1):
        log(f'run {number}/{len(runs)}: {run.kind} {run.config} (rows: '
            f'{", ".join(row.id for row in run.rows)}), {format_duration(time.time() - start)} '
            'elapsed')
        results.update(execute_run(run, args))
        for row in run.rows:
            done += 1
            value = results[row.id]
            diff = difference(row, value)
            log(f'row {done}/{len(rows)} {row.id}: published {published_text(row)} {row.metric}, '
                f'ours {format_result(value)}' + ('' if diff is None else f' (diff {diff:+.2f})')
                + f'; {format_duration(time.time() - start)} elapsed')
    ordered = [row for row in rows]  # table order, not run order
    print('\n' + console_table(ordered, results), flush=True)
    report = args.report or osp.join(work_dir, 'report.md')
    os.makedirs(osp.dirname(osp.abspath(report)), exist_ok=True)
    with open(report, 'w') as f:
        f.write(markdown_report(ordered, results, args, table, len(runs),
                                time.time() - start))
    with open(osp.splitext(report)[0] + '.json', 'w') as f:
        json.dump(json_report(ordered, results, args), f, indent=1)
    log(f'report: {report} (+ {osp.basename(osp.splitext(report)[0])}.json)')
    if args.random_weights:
        log('RANDOM CLIP WEIGHTS: every obtained number above is MEANINGLESS.')
    failed = [row.id for row in ordered if not is_number(results.get(row.id))]
    if failed:
        log(f'{len(failed)} row(s) without a result: {", ".join(failed)}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
