"""The quickstart figure: each task's headline metric over training (from the run's
trainer_state.json), with its exact optimum and its trivial baseline as lines."""

from __future__ import annotations

import json
from pathlib import Path


def headline_curve(run_dir: Path, metric: str) -> tuple[list[int], list[float]]:
    """(steps, values) of every logged evaluation of `metric` (the last one per step)."""
    state = run_dir / "trainer_state.json"
    if not state.is_file():
        return [], []
    history = json.loads(state.read_text()).get("log_history", [])
    points = {entry["step"]: entry[metric] for entry in history if metric in entry}
    steps = sorted(points)
    return steps, [points[step] for step in steps]


def plot_learning_curves(rows: list[dict], output_dir: Path, path: Path) -> Path:
    from latent_lab.analysis.figures import new_figure, save_figure

    columns = min(2, len(rows)) or 1
    grid_rows = -(-len(rows) // columns) or 1
    figure, axes = new_figure(grid_rows, columns, size=(6.0 * columns, 3.4 * grid_rows))
    for axis, row in zip(axes.flat, rows, strict=False):
        steps, values = headline_curve(output_dir / row["task"], row["metric"])
        axis.plot(steps, values, marker="o", markersize=3, color="tab:blue", label="model")
        if row["reference"] is not None:
            axis.axhline(row["reference"], color="tab:green", linestyle="--",
                         label=f"exact optimum {row['reference']:.3f}")  # fmt: skip
        if row["baseline"] is not None:
            axis.axhline(row["baseline"], color="tab:gray", linestyle=":",
                         label=f"trivial baseline {row['baseline']:.3f}")  # fmt: skip
        closed = "" if row["gap_closed"] is None else f", {100 * row['gap_closed']:.0f}% of gap"
        axis.set_title(f"{row['task']}: {row['model']}{closed}", fontsize=9)
        axis.set_xlabel("training step")
        axis.set_ylabel(row["metric"])
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(rows) :]:
        axis.set_visible(False)
    figure.suptitle("latent-lab quickstart (CPU, toy sizes): learning curves")
    figure.tight_layout()
    return save_figure(figure, path)
