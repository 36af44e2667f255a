"""The semi-synthetic result plot: per e2 type, no-CoT vs CoT two-hop accuracy and the
shuffled-answer loss advantage, each a mean over the type's attributes per run, then mean and
95% CI over seeds (aggregate.summarize).

    python -m latent_lab.tasks.semi_synthetic.plot RUNS_DIR... [--output two_hop.png]

Writes the PNG and two_hop.csv beside it; prints a table, then one JSON line (the summary).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import sys
from pathlib import Path

from latent_lab.analysis.aggregate import load_results, summarize
from latent_lab.analysis.bounds import metric_bounds
from latent_lab.config import argparse_one_line_errors
from latent_lab.errors import UserError, exit_on_user_error
from latent_lab.files import write_text_atomic
from latent_lab.tasks.semi_synthetic.facts import TYPES

QUANTITIES = ("nocot_accuracy", "cot_accuracy", "loss_advantage")
PLOT_FILE = "two_hop.png"


def run_quantities(metrics: dict) -> dict[str, float]:
    """One run's per-type numbers: means over its attributes (None when a metric is missing)."""
    attributes = sorted(
        match.group(1)
        for name in metrics
        if (match := re.fullmatch(r"acc_2hop_(.+)_nocot", name)) is not None
    )
    names = {
        "nocot_accuracy": "acc_2hop_{}_nocot",
        "cot_accuracy": "acc_2hop_{}_cot",
        "loss_advantage": "loss_advantage_{}",
    }
    values = {}
    for quantity, pattern in names.items():
        found = [metrics.get(pattern.format(a)) for a in attributes]
        ok = attributes and all(isinstance(v, (int, float)) for v in found)
        values[quantity] = sum(found) / len(found) if ok else None
    return values


def type_summaries(folders) -> list[dict]:
    """[{type, runs, <quantity>: summarize(values over runs)}], types in the order of
    docs/spec/two_hop.md."""
    by_type: dict[str, list[dict]] = {}
    for run in load_results(folders):
        if run.results.get("task") != "semi_synthetic":
            continue
        e2_type = run.results.get("type") or run.config.get("type")
        by_type.setdefault(e2_type, []).append(run_quantities(run.metrics))
    if not by_type:
        raise UserError("no semi_synthetic runs under the given folders; pass a grid's output_dir")
    order = sorted(by_type, key=lambda t: (TYPES.index(t) if t in TYPES else len(TYPES), t))
    return [
        {
            "type": e2_type,
            "runs": len(by_type[e2_type]),
            **{
                quantity: summarize(
                    [r[quantity] for r in by_type[e2_type] if r[quantity] is not None],
                    metric_bounds(quantity),
                )
                for quantity in QUANTITIES
            },
        }
        for e2_type in order
    ]


def plot_two_hop(summaries: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    positions = list(range(len(summaries)))
    figure, (accuracy_axis, advantage_axis) = plt.subplots(
        2, 1, figsize=(max(6.0, 0.7 * len(summaries) + 2.0), 7.5), sharex=True
    )
    for offset, quantity, label in (
        (-0.2, "nocot_accuracy", "no CoT"),
        (0.2, "cot_accuracy", "CoT"),
    ):
        _bars(accuracy_axis, [p + offset for p in positions], summaries, quantity, label)
    accuracy_axis.set_ylabel("two-hop accuracy")
    accuracy_axis.set_ylim(0, 1.05)
    accuracy_axis.legend()
    _bars(advantage_axis, positions, summaries, "loss_advantage", "shuffled - no-CoT loss")
    advantage_axis.axhline(0.0, color="red", linewidth=1, label="no person -> e2 link")
    advantage_axis.set_ylabel("loss advantage (nats)")
    advantage_axis.legend()
    advantage_axis.set_xticks(positions, [s["type"] for s in summaries], rotation=45, ha="right")
    figure.suptitle("two-hop reasoning per e2 type: mean and 95% CI over seeds")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.partial")
    try:
        figure.savefig(staging, format="png", dpi=110)
        os.replace(staging, path)  # never a half-written plot
    finally:
        plt.close(figure)
        staging.unlink(missing_ok=True)
    return path


def _bars(axis, positions, summaries, quantity, label) -> None:
    means = [s[quantity]["mean"] if s[quantity]["n"] else float("nan") for s in summaries]
    errors = [_half_widths(s[quantity]) for s in summaries]
    axis.bar(positions, means, width=0.4, label=label)
    axis.errorbar(
        positions,
        means,
        yerr=list(zip(*errors, strict=True)),
        fmt="none",
        ecolor="black",
        capsize=3,
    )


def _half_widths(stats: dict) -> tuple[float, float]:
    if stats["ci95_low"] is None:
        return 0.0, 0.0  # one seed: no interval
    return stats["mean"] - stats["ci95_low"], stats["ci95_high"] - stats["mean"]


def summary_csv(summaries: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["type", "quantity", "n", "mean", "ci95_low", "ci95_high"])
    for s in summaries:
        for quantity in QUANTITIES:
            stats = s[quantity]
            cells = [stats[k] for k in ("n", "mean", "ci95_low", "ci95_high")]
            writer.writerow([s["type"], quantity, *("" if c is None else c for c in cells)])
    return buffer.getvalue()


def main(argv=None) -> dict:
    parser = argparse_one_line_errors(argparse.ArgumentParser(prog="two_hop_plot"))
    parser.add_argument("dirs", nargs="+", metavar="RUNS_DIR", help="folders of finished runs")
    parser.add_argument("--output", default=None, help=f"PNG path (default: RUNS_DIR/{PLOT_FILE})")
    args = parser.parse_args(argv)
    summaries = type_summaries(args.dirs)
    plot = Path(args.output) if args.output else Path(args.dirs[0]) / PLOT_FILE
    table = write_text_atomic(plot.with_suffix(".csv"), summary_csv(summaries))
    plot_two_hop(summaries, plot)
    for s in summaries:
        cells = [f"{q} {_fmt(s[q])}" for q in QUANTITIES]
        print(f"{s['type']} (n={s['runs']}): " + ", ".join(cells), file=sys.stderr)
    return {"plot": str(plot), "csv": str(table), "types": summaries}


def _fmt(stats: dict) -> str:
    if not stats["n"]:
        return "-"
    if stats["ci95_low"] is None:
        return f"{stats['mean']:.3f}"
    return f"{stats['mean']:.3f} [{stats['ci95_low']:.3f}, {stats['ci95_high']:.3f}]"


if __name__ == "__main__":
    with exit_on_user_error("two_hop_plot"):
        print(json.dumps(main()))
