"""The aggregate plot: one panel per metric, each group's mean with its 95% CI as an error bar,
the individual runs as dots, and the exact reference (when runs carry one) as a red dash."""

from __future__ import annotations

import math
import os
from pathlib import Path

from latent_lab.analysis.aggregate import Aggregate, GroupSummary
from latent_lab.analysis.figures import new_figure, save_figure

PANEL_COLUMNS = 3


def group_label(group: GroupSummary) -> str:
    if len(group.key) == 1:
        return str(next(iter(group.key.values())))
    return "\n".join(f"{name}={value}" for name, value in group.key.items())


def plot_aggregate(aggregate: Aggregate, path: str | os.PathLike) -> Path:
    """Write the PNG (atomically: a failed plot leaves no half file)."""
    panels = max(len(aggregate.metrics), 1)
    columns = min(PANEL_COLUMNS, panels)
    rows = math.ceil(panels / columns)
    width = max(4.0, 0.6 * len(aggregate.groups) + 2.0)
    figure, axes = new_figure(rows, columns, size=(width * columns, 3.6 * rows))
    for index, metric in enumerate(aggregate.metrics):
        draw_metric_panel(axes[index // columns][index % columns], aggregate, metric)
    for index in range(len(aggregate.metrics), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    figure.suptitle(f"mean and 95% CI by {', '.join(aggregate.by)}")
    figure.tight_layout()
    return save_figure(figure, path)


def draw_metric_panel(axis, aggregate: Aggregate, metric: str) -> None:
    has_reference = False
    for position, group in enumerate(aggregate.groups):
        stats = group.stats(metric)
        values = group.values.get(metric, [])
        axis.scatter([position] * len(values), values, s=12, color="0.6", zorder=2)
        if stats["n"] == 0:
            continue
        error = [[0.0], [0.0]]
        if stats["ci95_low"] is not None:
            error = [[stats["mean"] - stats["ci95_low"]], [stats["ci95_high"] - stats["mean"]]]
        axis.errorbar(
            [position], [stats["mean"]], yerr=error, fmt="o", color="C0", capsize=4, zorder=3
        )
        if stats["reference"] is not None:
            axis.scatter(
                [position],
                [stats["reference"]],
                marker="_",
                s=400,
                color="C3",
                zorder=4,
                label=None if has_reference else "exact reference",
            )
            has_reference = True
    axis.set_xticks(range(len(aggregate.groups)))
    axis.set_xticklabels([group_label(group) for group in aggregate.groups], fontsize=8)
    axis.set_xlim(-0.5, len(aggregate.groups) - 0.5)
    axis.set_xlabel(", ".join(aggregate.by), fontsize=8)
    axis.set_title(metric, fontsize=10)
    axis.grid(axis="y", alpha=0.3)
    if has_reference:
        axis.legend(fontsize=8)
