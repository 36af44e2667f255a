"""`latent-lab compare RUN_DIR... --by FIELD --metric NAME`: paired comparisons over seeds.

For each pair of values of FIELD (a results.json key or a config key, e.g. model_type or
learning_rate): the per-seed differences of the metric, their mean with 95% CIs (paired t and
bootstrap), the paired-t p-value (Wilcoxon's too from 6 pairs) and the seeds 80% power needs.
Markdown on stdout, compare.csv and compare.png beside; the last stdout line is JSON."""

from __future__ import annotations

from pathlib import Path

from latent_lab.commands.output import emit

CSV_FILE, PLOT_FILE = "compare.csv", "compare.png"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired comparison of runs over seeds (differences, CIs, p-values, power)",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("dirs", nargs="+", metavar="RUN_DIR", help="folders holding runs")
    parser.add_argument("--by", required=True, metavar="FIELD", help="the field compared")
    parser.add_argument(
        "--metric", action="append", required=True, metavar="NAME", help="repeat for several"
    )
    parser.add_argument(
        "--output-dir", help=f"where {CSV_FILE} and {PLOT_FILE} go (default: the first RUN_DIR)"
    )
    parser.set_defaults(func=compare_command)


def compare_command(args) -> dict:
    from latent_lab.analysis.aggregate import check_group_fields, choose_metrics, load_results
    from latent_lab.analysis.paired import compare
    from latent_lab.analysis.paired_report import markdown, plot, write_csv
    from latent_lab.files import check_output_path

    out = Path(args.output_dir or args.dirs[0])
    check_output_path(out, "--output-dir")
    runs = load_results(args.dirs)
    check_group_fields(runs, [args.by])
    metrics = choose_metrics(runs, args.metric)
    comparisons = [c for metric in metrics for c in compare(runs, args.by, metric)]
    emit(markdown(comparisons))
    csv_path = write_csv(comparisons, out / CSV_FILE)
    plot_path = plot(comparisons, out / PLOT_FILE)
    return {
        "comparisons": [c.to_json() for c in comparisons],
        "csv": str(csv_path),
        "plot": str(plot_path),
    }
