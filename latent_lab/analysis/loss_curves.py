"""Loss and accuracy curves from Trainer logs, one or several runs overlaid, with the exact
reference values as dashed lines so a gap to the optimum is visible at a glance."""

from __future__ import annotations

import os
from pathlib import Path

from latent_lab.analysis.figures import blank_figure, save_figure
from latent_lab.analysis.run_files import EVAL_LOSS_KEY, TRAIN_LOSS_KEY, RunFolder

REFERENCE_COLOR = "0.35"
# More legend entries than this go beside the panel: inside, they would cover the curves.
LEGEND_INSIDE_MAX = 8


def plot_loss_curves(runs: list[RunFolder], out_path: str | os.PathLike) -> Path:
    """Write a PNG: train/eval loss vs step, plus a panel of logged *accuracy metrics when any
    run has them. Runs are overlaid and labelled when there are several."""
    return save_figure(loss_curve_figure(runs), out_path)


def loss_curve_figure(runs: list[RunFolder]):
    """The figure plot_loss_curves saves: loss panel first, accuracy panel second if any."""
    accuracy_keys = sorted({key for run in runs for key in run.logged_accuracy_keys()})
    panels = 2 if accuracy_keys else 1
    # Room for a legend beside a panel: train + eval loss, or each accuracy key, per run.
    curves_per_panel = max(2, len(accuracy_keys)) * len(runs)
    panel_width = 9.0 if curves_per_panel > LEGEND_INSIDE_MAX else 6.5
    figure = blank_figure((panel_width * panels, 4.2), layout="constrained")
    _draw_loss_panel(figure.add_subplot(1, panels, 1), runs)
    if accuracy_keys:
        _draw_accuracy_panel(figure.add_subplot(1, panels, 2), runs, accuracy_keys)
    return figure


def _draw_loss_panel(axes, runs: list[RunFolder]) -> None:
    drew_any = False
    for index, run in enumerate(runs):
        color = f"C{index % 10}"
        prefix = f"{run.label}: " if len(runs) > 1 else ""
        steps, values = run.series(TRAIN_LOSS_KEY)
        if steps:
            axes.plot(steps, values, color=color, alpha=0.55, label=f"{prefix}train loss")
            drew_any = True
        steps, values = run.series(EVAL_LOSS_KEY)
        if steps:
            axes.plot(
                steps, values, color=color, marker="o", markersize=3, label=f"{prefix}eval loss"
            )
            drew_any = True
    _draw_references(axes, runs, "loss")
    _finish_axes(axes, "loss (nats per token)", drew_any)


def _draw_accuracy_panel(axes, runs: list[RunFolder], keys: list[str]) -> None:
    markers = "os^vD"
    for index, run in enumerate(runs):
        prefix = f"{run.label}: " if len(runs) > 1 else ""
        for key_index, key in enumerate(keys):
            steps, values = run.series(key)
            if steps:
                axes.plot(
                    steps,
                    values,
                    color=f"C{index % 10}",
                    marker=markers[key_index % len(markers)],
                    markersize=3,
                    label=f"{prefix}{key}",
                )
    _draw_references(axes, runs, "accuracy")
    _finish_axes(axes, "accuracy", drew_any=True)


def _draw_references(axes, runs: list[RunFolder], name_suffix: str) -> None:
    """One dashed line per distinct reference value of the metrics whose names end in
    `name_suffix` (runs on the same task share one line)."""
    drawn: set[float] = set()
    for run in runs:
        mapped = run.results.get("reference_for") or {}
        for metric in sorted(name for name in mapped if name.endswith(name_suffix)):
            found = run.reference(metric)
            if found is None or float(found[1]) in drawn:
                continue
            key, value = found
            drawn.add(float(value))
            label = f"{key} = {float(value):.4g}"
            axes.axhline(float(value), color=REFERENCE_COLOR, linestyle="--", label=label)


def _finish_axes(axes, ylabel: str, drew_any: bool) -> None:
    axes.set_xlabel("step")
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if not drew_any:
        message = "no training log (trainer_state.json) found"
        axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    entries = len(axes.get_legend_handles_labels()[0])
    if entries > LEGEND_INSIDE_MAX:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    elif entries:
        axes.legend(fontsize=8)
