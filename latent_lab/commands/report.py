"""`latent-lab report RUN_DIR [RUN_DIR ...]`: a markdown report for one run, or a comparison
of several (the course's "change one thing and compare")."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from latent_lab.commands.output import emit


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report",
        help="markdown report of a run, or a comparison of several runs",
        description=(
            "One RUN_DIR: write report.md and loss_curve.png into it. Several: write "
            "comparison.md and comparison_loss_curve.png into their common parent folder. Runs "
            "with per-position records also get excess_by_position.png, "
            "excess_over_training.png and excess_by_slice.png (several runs of one config: "
            "mean and 95% band across seeds)."
        ),
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="training --output_dir")
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where to write (default: the run folder, or the runs' common parent)",
    )
    parser.set_defaults(func=run_report_command)


def run_report_command(args) -> dict:
    from latent_lab.analysis.run_files import load_runs

    run_dirs = [Path(run_dir) for run_dir in args.run_dirs]
    runs = load_runs(run_dirs)  # fails early, naming the folder without results.json
    from latent_lab.analysis.excess_plots import write_excess_plots
    from latent_lab.files import check_output_path

    if len(runs) == 1:
        out_dir = Path(args.output_dir) if args.output_dir else runs[0].folder
        check_output_path(out_dir, "--output-dir" if args.output_dir else "RUN_DIR")
        summary = _single_run_report(runs[0], args.output_dir)
    else:
        out_dir = Path(args.output_dir) if args.output_dir else common_parent(run_dirs)
        check_output_path(out_dir, "--output-dir" if args.output_dir else "RUN_DIR")
        summary = _comparison_report(runs, run_dirs, out_dir)
    summary["excess_plots"] = write_excess_plots(runs, out_dir)
    summary["files"] += summary["excess_plots"]
    print(f"wrote {', '.join(summary['files'])}", file=sys.stderr)
    summary["runs"] = [str(run_dir) for run_dir in run_dirs]
    return summary


def _single_run_report(run, output_dir) -> dict:
    # Imported here (and below) so `latent-lab --help` does not load matplotlib.
    from latent_lab.analysis.run_report import CURVE_FILE, run_metrics_table, write_run_report

    report = write_run_report(run.folder, output_dir)
    emit(run_metrics_table(run))
    return {"kind": "run", "files": [str(report), str(report.parent / CURVE_FILE)]}


def _comparison_report(runs, run_dirs: list[Path], out_dir: Path) -> dict:
    from latent_lab.analysis.compare_runs import (
        COMPARISON_CURVE_FILE,
        best_run_line,
        comparison_metrics_table,
        give_unique_labels,
        headline_metric,
        overall_best,
        write_comparison,
    )

    report = write_comparison(run_dirs, out_dir)
    give_unique_labels(runs)  # the same labels as in the written report
    emit(comparison_metrics_table(runs) + "\n\n" + best_run_line(runs))
    return {
        "kind": "comparison",
        "files": [str(report), str(out_dir / COMPARISON_CURVE_FILE)],
        "headline_metric": headline_metric(runs),
        "best_runs": [str(run.folder) for run in overall_best(runs)],
    }


def common_parent(run_dirs: list[Path]) -> Path:
    """The deepest folder holding every run (their shared experiment's out/, typically)."""
    resolved = [str(run_dir.resolve()) for run_dir in run_dirs]
    shared = Path(os.path.commonpath(resolved))
    # Given the same run twice, commonpath is the run itself; the comparison still goes above.
    return shared.parent if str(shared) in resolved else shared
