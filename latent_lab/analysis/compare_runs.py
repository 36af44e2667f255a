"""The course assignment's "change one thing and compare": one markdown page with the config
fields that differ between runs, their final metrics beside the exact references, overlaid
loss curves, and which run is best on the headline metric."""

from __future__ import annotations

import os
from pathlib import Path

from latent_lab.analysis.loss_curves import plot_loss_curves
from latent_lab.analysis.run_files import RunFolder, load_runs
from latent_lab.analysis.run_report import (
    HEADLINE_METRICS,
    MISSING,
    format_config_value,
    format_count,
    format_number,
    format_seconds,
    inline_code,
    markdown_table,
    order_metrics,
)
from latent_lab.errors import UserError
from latent_lab.files import write_text_atomic

COMPARISON_FILE = "comparison.md"
COMPARISON_CURVE_FILE = "comparison_loss_curve.png"
# Fields that differ between any two runs by construction; listing them hides the real change.
BOOKKEEPING_KEYS = frozenset({"output_dir", "run_name", "logging_dir", "hub_model_id"})
_UNSET = object()


def write_comparison(run_dirs, out_dir: str | os.PathLike) -> Path:
    """Write comparison.md and comparison_loss_curve.png into `out_dir`; return the report path."""
    runs = load_runs(run_dirs)
    if not runs:
        raise UserError("no run folders given; pass two or more training --output_dir folders")
    give_unique_labels(runs)
    out_dir = Path(out_dir)
    plot_loss_curves(runs, out_dir / COMPARISON_CURVE_FILE)
    text = render_comparison(runs, out_dir, COMPARISON_CURVE_FILE)
    return write_text_atomic(out_dir / COMPARISON_FILE, text)


def give_unique_labels(runs: list[RunFolder]) -> None:
    """Runs are told apart by name in tables and legends; fall back to folder names, then
    numbers, when run names collide."""
    for candidates in (
        [run.label for run in runs],
        [run.folder.name for run in runs],
        [f"{run.folder.name} #{index + 1}" for index, run in enumerate(runs)],
    ):
        if len(set(candidates)) == len(candidates):
            for run, label in zip(runs, candidates, strict=True):
                run.display_name = label
            return


def differing_config_keys(runs: list[RunFolder]) -> list[str]:
    """Config fields whose values are not the same in every run (a missing field counts)."""
    configs = [run.config for run in runs]
    keys = sorted(set().union(*configs) - BOOKKEEPING_KEYS)
    return [
        key
        for key in keys
        if any(config.get(key, _UNSET) != configs[0].get(key, _UNSET) for config in configs)
    ]


def headline_metric(runs: list[RunFolder]) -> str | None:
    for metric in HEADLINE_METRICS:
        if any(_is_number(run.metrics.get(metric)) for run in runs):
            return metric
    return None


def lower_is_better(metric: str) -> bool:
    return metric.endswith("loss") or metric.endswith("perplexity")


def best_runs(runs: list[RunFolder], metric: str) -> list[RunFolder]:
    """The run(s) with the best value of `metric` (several when tied); runs without it skip."""
    scored = [run for run in runs if _is_number(run.metrics.get(metric))]
    if not scored:
        return []
    choose = min if lower_is_better(metric) else max
    best_value = choose(run.metrics[metric] for run in scored)
    return [run for run in scored if run.metrics[metric] == best_value]


def render_comparison(runs: list[RunFolder], out_dir: Path, curve_image: str) -> str:
    sections = [
        f"# Comparison of {len(runs)} runs",
        best_run_line(runs),
        "## Runs",
        _runs_table(runs, out_dir),
        "## What changed",
        config_difference_table(runs),
        "## Final metrics",
        comparison_metrics_table(runs),
        "## Loss curves",
        f"![Loss curves of all runs]({curve_image})",
    ]
    return "\n\n".join(sections) + "\n"


def ranking(runs: list[RunFolder]) -> list[tuple[str, list[RunFolder], list[RunFolder]]]:
    """How the best run is chosen, as (metric, candidates, winners) steps: the headline metric
    first; a tie (common early on, e.g. every run at accuracy 0) goes to the next one."""
    steps = []
    candidates = runs
    for metric in HEADLINE_METRICS:
        winners = best_runs(candidates, metric)
        if winners:
            steps.append((metric, candidates, winners))
            candidates = winners
        if len(candidates) == 1:
            break
    return steps


def overall_best(runs: list[RunFolder]) -> list[RunFolder]:
    steps = ranking(runs)
    return steps[-1][2] if steps else []


def best_run_line(runs: list[RunFolder]) -> str:
    steps = ranking(runs)
    if not steps:
        return f"No run has a headline metric ({' or '.join(HEADLINE_METRICS)}) to rank by."
    sentences = []
    for index, (metric, candidates, winners) in enumerate(steps):
        direction = "lower" if lower_is_better(metric) else "higher"
        opening = "Tie broken by" if index else ("Tied on" if len(winners) > 1 else "Best on")
        names = ", ".join(f"**{run.label}**" for run in winners)
        others = [
            f"{run.label} {format_number(run.metrics[metric])}"
            for run in candidates
            if run not in winners and _is_number(run.metrics.get(metric))
        ]
        versus = f" (vs {'; '.join(others)})" if others else ""
        value = format_number(winners[0].metrics[metric])
        sentences.append(
            f"{opening} `{metric}` ({direction} is better): {names} with {value}{versus}."
        )
    return " ".join(sentences)


def _runs_table(runs: list[RunFolder], out_dir: Path) -> str:
    rows = []
    for run in runs:
        results = run.results
        folder = os.path.relpath(run.folder.resolve(), out_dir.resolve())
        rows.append(
            [
                run.label,
                inline_code(folder),
                results.get("config_name", MISSING),
                results.get("model_type", MISSING),
                format_count(results.get("num_parameters")),
                results.get("seed", MISSING),
                format_seconds(results.get("wall_time_s")),
            ]
        )
    headers = ["run", "folder", "config", "model", "parameters", "seed", "wall time"]
    return markdown_table(headers, rows)


def config_difference_table(runs: list[RunFolder]) -> str:
    keys = differing_config_keys(runs)
    if not keys:
        return "No config field differs between these runs (output folders and run names aside)."
    rows = [
        [inline_code(key)]
        + [format_config_value(run.config[key]) if key in run.config else "(unset)" for run in runs]
        for key in keys
    ]
    return markdown_table(["config field"] + [run.label for run in runs], rows)


def comparison_metrics_table(runs: list[RunFolder]) -> str:
    metrics = order_metrics(set().union(*(run.metrics for run in runs)))
    if not metrics:
        return "No final metrics in these runs' results.json."
    rows = [
        [metric]
        + [format_number(run.metrics.get(metric)) for run in runs]
        + [_reference_cell(runs, metric)]
        for metric in metrics
    ]
    return markdown_table(["metric"] + [run.label for run in runs] + ["exact reference"], rows)


def _reference_cell(runs: list[RunFolder], metric: str) -> str:
    """One value when the runs share a reference (same task); per run when they differ."""
    found = {run.label: run.reference(metric) for run in runs}
    known = {label: ref for label, ref in found.items() if ref is not None}
    if not known:
        return MISSING
    if len(set(known.values())) == 1 and len(known) == len(runs):
        key, value = next(iter(known.values()))
        return f"{format_number(value)} ({key})"
    return "; ".join(f"{label}: {format_number(ref[1])}" for label, ref in known.items())


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
