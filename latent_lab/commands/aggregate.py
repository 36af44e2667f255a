"""`latent-lab aggregate DIR... [--by FIELD]... [--metric NAME]... [--plot FILE]`: one table,
CSV and error-bar plot over every results.json under the folders (error bars across seeds)."""

from __future__ import annotations

import sys
from pathlib import Path

from latent_lab.commands.output import emit

CSV_FILE = "aggregate.csv"
PLOT_FILE = "aggregate.png"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregate",
        help="mean, std and 95%% CI of run metrics, grouped (table, CSV, plot)",
        description=(
            "Read every results.json under DIR (recursively), group runs by --by fields "
            "(default: config_name; a results.json key or a config key such as learning_rate) "
            "and report n, mean, sample std, Student-t 95%% CI, min and max of each metric. "
            f"Writes {CSV_FILE} beside the plot (default: {PLOT_FILE} in the first DIR)."
        ),
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="folders holding finished runs")
    parser.add_argument(
        "--by",
        action="append",
        metavar="FIELD",
        help="grouping field; repeat for several (default: config_name)",
    )
    parser.add_argument(
        "--metric",
        action="append",
        metavar="NAME",
        help="metric to report; repeat for several (default: every numeric metric)",
    )
    parser.add_argument(
        "--plot", metavar="FILE", default=None, help=f"PNG path (default: DIR/{PLOT_FILE})"
    )
    parser.set_defaults(func=aggregate_command)


def aggregate_command(args) -> dict:
    from latent_lab.analysis.aggregate import (
        aggregate_runs,
        load_results,
        markdown_table,
        write_csv,
    )
    from latent_lab.analysis.aggregate_plot import plot_aggregate
    from latent_lab.files import check_output_path

    plot_path = Path(args.plot) if args.plot else Path(args.dirs[0]) / PLOT_FILE
    field = "--plot" if args.plot else "DIR"  # the default plot goes into the first DIR
    for path in (plot_path, plot_path.parent / CSV_FILE):  # the CSV goes beside the plot
        check_output_path(path, field, folder=False)
    runs = load_results(args.dirs)
    aggregate = aggregate_runs(runs, by=args.by, metrics=args.metric)
    csv_path = write_csv(aggregate, plot_path.parent / CSV_FILE)
    plot_aggregate(aggregate, plot_path)
    emit(markdown_table(aggregate))
    print(f"{len(runs)} runs; wrote {csv_path} and {plot_path}", file=sys.stderr)
    for entry in aggregate.missing:
        print(f"missing: {entry['metric']} in {entry['run']} ({entry['reason']})", file=sys.stderr)
    summary = aggregate.to_json()
    summary.update(num_runs=len(runs), csv=str(csv_path), plot=str(plot_path))
    return summary
