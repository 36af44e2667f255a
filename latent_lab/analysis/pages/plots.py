"""The figures of a results page, drawn from the collected curve CSVs alone: one line per arm,
the mean over its runs with a 95% t band (runs paired by step: seeds of one config evaluate at
the same steps), and the exact optimum as a line (0 for an excess; the optimum's own loss or
accuracy, dashed, in the arm's colour). One panel per evaluation split."""

from __future__ import annotations

from pathlib import Path

from latent_lab.analysis.figures import new_figure, save_figure

PANEL = (5.0, 3.6)  # inches per panel
MEASURE_LABELS = {"excess": "excess loss (nats)", "accuracy": "accuracy"}
OPTIMUM_STYLE = {"linestyle": "--", "linewidth": 1.0}


def band(table) -> tuple:
    """(mean, low, high) per row of a steps x runs table: the 95% t band where >= 2 runs."""
    import numpy as np
    from scipy import stats

    values = table.to_numpy(dtype=float)
    n = np.sum(~np.isnan(values), axis=1)
    mean = np.nanmean(values, axis=1)
    spread = np.full(len(values), np.nan)
    many = n >= 2
    if many.any():
        std = np.nanstd(values[many], axis=1, ddof=1)
        spread[many] = stats.t.ppf(0.975, n[many] - 1) * std / np.sqrt(n[many])
    spread = np.nan_to_num(spread)
    return mean, mean - spread, mean + spread


def draw_arm(axis, frame, x_key: str, column: str, color: str, label: str) -> None:
    """One arm's mean line and 95% band of `column` against `x_key`, runs as columns."""
    table = frame.pivot_table(index="step", columns="pair", values=column, aggfunc="mean")
    if table.empty or table.isna().all().all():
        return
    x = frame.groupby("step")[x_key].mean().loc[table.index].to_numpy(dtype=float)
    mean, low, high = band(table)
    low, high = clipped(column, low, high)
    runs = table.shape[1]
    axis.plot(x, mean, color=color, label=f"{label} (n={runs})")
    if runs > 1:
        axis.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)


def clipped(column: str, low, high) -> tuple:
    """A band kept inside the range the quantity can take (an accuracy band of [-0.2, 1.1]
    from two runs claims the impossible): analysis/bounds.py."""
    import numpy as np

    from latent_lab.analysis.bounds import metric_bounds

    bottom, top = metric_bounds(column)
    return np.clip(low, bottom, top), np.clip(high, bottom, top)


def arms(frame, grid):
    """(arm rows, colour, label) in the spec's order, for arms that have rows."""
    for index, (arm, label) in enumerate(grid.arms.items()):
        part = frame[frame["arm"] == arm]
        if not part.empty:
            yield part, f"C{index % 10}", label


def split_panels(frame, grid, size=PANEL):
    splits = [s for s in grid.curve_splits if (frame["split"] == s).any()]
    figure, axes = new_figure(1, max(1, len(splits)), size=(size[0] * max(1, len(splits)), size[1]))
    return figure, list(zip(axes[0], splits, strict=False))


def curve_figure(frame, grid, column: str, optimum: str | None, ylabel: str, x_key: str):
    """Per split: each arm's curve of `column`, and the optimum's (`optimum` column, dashed;
    "zero" for an excess)."""
    figure, panels = split_panels(frame, grid)
    for axis, split in panels:
        part = frame[frame["split"] == split]
        drawn = False
        for rows, color, label in arms(part, grid):
            draw_arm(axis, rows, x_key, column, color, label)
            if optimum not in (None, "zero") and rows[optimum].notna().any():
                means = rows.groupby("step")[[x_key, optimum]].mean()
                axis.plot(means[x_key], means[optimum], color=color, **OPTIMUM_STYLE)
                drawn = True
        if optimum == "zero":
            axis.axhline(0.0, color="0.2", label="exact optimum", **OPTIMUM_STYLE)
        elif drawn:
            axis.plot([], [], color="0.2", label="exact optimum (dashed)", **OPTIMUM_STYLE)
        axis.set_title(split, fontsize=9)
        axis.set_ylabel(ylabel, fontsize=8)
        finish(axis, x_key)
    return figure


def finish(axis, x_key: str) -> None:
    if x_key == "train_tokens":
        axis.set_xscale("log")
        axis.set_xlabel("training tokens")
    else:
        axis.set_xlabel("position in the sequence")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)


def by_position_figure(frame, grid):
    # One "step" per run (the last evaluation): index the bins as steps to reuse draw_arm.
    shifted = frame.assign(step=frame["position"], x=frame["position"] + (frame["width"] - 1) / 2)
    return curve_figure(shifted, grid, "excess", "zero", "excess loss (nats)", "x")


def slice_frames(frame, grid, name: str):
    part = frame[(frame["slice"] == name) & (frame["split"] == grid.curve_splits[0])]
    return part.sort_values(["order", "value"])


def slice_over_training_figure(frame, grid):
    """For each slice value (panel): each arm's measure over training, optimum dashed."""
    panels = [
        (s, v)
        for s in grid.slices
        for v in dict.fromkeys(slice_frames(frame, grid, s.name)["value"])
    ]
    figure, axes = new_figure(
        1, max(1, len(panels)), size=(PANEL[0] * max(1, len(panels)), PANEL[1])
    )
    for axis, (spec, value) in zip(axes[0], panels, strict=False):
        part = slice_frames(frame, grid, spec.name)
        part = part[part["value"] == value]
        optimum = "reference_accuracy" if spec.measure == "accuracy" else "zero"
        for rows, color, label in arms(part, grid):
            draw_arm(axis, rows, "train_tokens", spec.measure, color, label)
            if optimum != "zero":
                means = rows.groupby("step")[["train_tokens", optimum]].mean()
                axis.plot(means["train_tokens"], means[optimum], color=color, **OPTIMUM_STYLE)
        if optimum == "zero":
            axis.axhline(0.0, color="0.2", label="exact optimum", **OPTIMUM_STYLE)
        axis.set_title(f"{grid.curve_splits[0]}: {spec.name} = {value}", fontsize=9)
        axis.set_ylabel(MEASURE_LABELS[spec.measure], fontsize=8)
        finish(axis, "train_tokens")
    return figure


def by_slice_figure(frame, grid):
    """Last evaluation: each arm's measure per slice value, mean and 95% CI over runs."""
    figure, axes = new_figure(
        1, max(1, len(grid.slices)), size=(PANEL[0] * max(1, len(grid.slices)), PANEL[1])
    )
    for axis, spec in zip(axes[0], grid.slices, strict=False):
        part = slice_frames(frame, grid, spec.name)
        part = part[part["step"] == part.groupby(["arm", "pair"])["step"].transform("max")]
        values = list(dict.fromkeys(part["value"]))
        count = max(1, len(grid.arms))
        for index, (rows, color, label) in enumerate(arms(part, grid)):
            table = rows.pivot_table(index="value", columns="pair", values=spec.measure)
            table = table.reindex([v for v in values if v in table.index])
            mean, low, high = band(table)
            low, high = clipped(spec.measure, low, high)
            x = [values.index(v) + 0.8 * index / count for v in table.index]
            axis.errorbar(
                x,
                mean,
                yerr=[mean - low, high - mean],
                fmt="o",
                capsize=3,
                color=color,
                label=f"{label} (n={table.shape[1]})",
            )
        axis.set_xticks(range(len(values)), values, rotation=30, fontsize=7)
        if spec.measure == "excess":
            axis.axhline(0.0, color="0.2", label="exact optimum", **OPTIMUM_STYLE)
        axis.set_title(f"{grid.curve_splits[0]}, last evaluation: {spec.name}", fontsize=9)
        axis.set_ylabel(MEASURE_LABELS[spec.measure], fontsize=8)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    return figure


def comparisons_figure(comparisons, path: Path) -> Path | None:
    """analysis/paired_report's plot of the comparisons that have pairs."""
    from types import SimpleNamespace

    from latent_lab.analysis.paired_report import plot

    shown = [SimpleNamespace(**{**c, "metric": c["metric_label"]}) for c in comparisons]
    shown = [c for c in shown if c.n_pairs]
    return plot(shown, path) if shown else None


def excess_curves(frame, grid):
    return curve_figure(frame, grid, "excess", "zero", "excess loss (nats)", "train_tokens")


def loss_curves(frame, grid):
    return curve_figure(frame, grid, "model_nll", "reference_nll", "loss (nats)", "train_tokens")


def accuracy_curves(frame, grid):
    return curve_figure(frame, grid, "accuracy", "reference_accuracy", "accuracy", "train_tokens")


# figure name -> (the curve CSV it reads: page.FRAME_NAMES key, the function drawing it)
MAKERS = {
    "excess_over_training": ("training", excess_curves),
    "loss_over_training": ("training", loss_curves),
    "accuracy_over_training": ("training", accuracy_curves),
    "excess_by_position": ("position", by_position_figure),
    "by_slice": ("slice", by_slice_figure),
    "slice_over_training": ("slice", slice_over_training_figure),
}


def draw_figure(name: str, grid, frames: dict, comparisons, path: Path) -> Path | None:
    """One named figure of a grid into path; None when its data are absent."""
    if name == "comparisons":
        return comparisons_figure(comparisons, path)
    source, maker = MAKERS[name]
    frame = frames[source][frames[source]["grid"] == grid.name]
    if frame.empty:
        return None
    figure = maker(frame, grid)
    figure.tight_layout()
    return save_figure(figure, path)
