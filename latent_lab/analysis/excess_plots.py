"""The distance-to-optimum figures of `latent-lab report` (docs/spec/distance_to_optimum.md),
from each run's positions.parquet:

- excess_by_position.png: excess loss (model - optimum, nats) against position;
- excess_over_training.png: excess loss against training tokens (log x), one line per split;
- excess_by_slice.png: excess loss per value of each slice (numeric slices in quantile bins).

One run: a line per evaluated step (by position) or per split. Several runs: runs that share a
config_name are seeds of one configuration: their mean with a 95% band (Student t). Without an
exact optimum (NaN references) the figures show the model's loss itself and say so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latent_lab.analysis.figures import new_figure, save_figure

FILES = ("excess_by_position.png", "excess_over_training.png", "excess_by_slice.png")
MAX_POSITION_BINS = 64  # long sequences: mean excess per bin of positions
MAX_STEP_LINES = 6  # one run: this many evaluated steps drawn by position
SLICE_BINS = 5  # numeric slices with many values: quantile bins


def load_records(run) -> object | None:
    """The run's records as a DataFrame with an `excess` column; None if it has none."""
    import pandas as pd

    path = Path(run.folder) / "positions.parquet"
    if not path.is_file():
        return None
    records = pd.read_parquet(path)
    reference = records["reference_nll"].to_numpy(dtype=float)
    has_reference = not np.isnan(reference).all()
    if has_reference:  # positions the optimum does not score (a char window's first line)
        records = records[~np.isnan(reference)].reset_index(drop=True)
        reference = reference[~np.isnan(reference)]
    records["excess"] = records["model_nll"].to_numpy() - (reference if has_reference else 0.0)
    records.attrs["has_reference"] = has_reference
    return records


def band(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t-band across equally long curves (no band for one)."""
    from scipy import stats

    stacked = np.vstack(curves)
    mean = np.nanmean(stacked, axis=0)
    if len(curves) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.975, len(curves) - 1) * np.nanstd(stacked, axis=0, ddof=1)
    half = half / np.sqrt(len(curves))
    return mean, mean - half, mean + half


def draw(axis, x, curves: list[np.ndarray], label: str) -> None:
    mean, low, high = band(curves)
    (line,) = axis.plot(x, mean, label=f"{label} (n={len(curves)})" if len(curves) > 1 else label)
    if len(curves) > 1:
        axis.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)


def groups(runs, records) -> dict[str, list]:
    """config_name -> the records of its runs (seeds), in order."""
    found: dict[str, list] = {}
    for run, frame in zip(runs, records, strict=True):
        if frame is not None:
            found.setdefault(str(run.results.get("config_name") or run.label), []).append(frame)
    return found


def by_position(frame, bins) -> np.ndarray:
    positions = frame["position"].to_numpy()
    index = np.clip(np.searchsorted(bins, positions, side="right") - 1, 0, len(bins) - 2)
    sums = np.bincount(index, weights=frame["excess"].to_numpy(), minlength=len(bins) - 1)
    counts = np.bincount(index, minlength=len(bins) - 1)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def position_bins(frames) -> np.ndarray:
    top = max(int(frame["position"].max()) for frame in frames) + 1
    return np.unique(np.linspace(0, top, min(top, MAX_POSITION_BINS) + 1).astype(int))


def plot_by_position(grouped: dict, axis) -> None:
    frames = [frame for members in grouped.values() for frame in members]
    bins = position_bins(frames)
    centres = (bins[:-1] + bins[1:] - 1) / 2
    if len(frames) == 1:  # one run: how the gap closes, evaluation by evaluation
        frame = frames[0][frames[0]["split"] == "validation"]
        steps = sorted(frame["step"].unique())
        picks = np.linspace(0, len(steps) - 1, min(len(steps), MAX_STEP_LINES)).round()
        for step in [steps[int(i)] for i in sorted(set(picks))]:
            draw(axis, centres, [by_position(frame[frame["step"] == step], bins)], f"step {step}")
    else:
        for name, members in grouped.items():
            finals = [m[(m["split"] == "validation") & (m["step"] == m["step"].max())]
                      for m in members]  # fmt: skip
            draw(axis, centres, [by_position(final, bins) for final in finals], name)
    axis.set_xlabel("position in the sequence")


def plot_over_training(grouped: dict, axis) -> None:
    for name, members in grouped.items():
        splits = sorted(set().union(*(set(m["split"]) for m in members)))
        for split in splits:
            curves, tokens = [], None
            for member in members:
                part = member[member["split"] == split]
                means = part.groupby("train_tokens")["excess"].mean()
                tokens = means.index.to_numpy() if tokens is None else tokens
                if len(means) == len(tokens):  # seeds of one config evaluate at the same points
                    curves.append(means.to_numpy())
            if curves and len(tokens) and tokens.max() > 0:
                keep = tokens > 0
                label = split if len(grouped) == 1 else f"{name}: {split}"
                draw(axis, tokens[keep], [curve[keep] for curve in curves], label)
    axis.set_xscale("log")
    axis.set_xlabel("training tokens")


def slice_means(frame, column: str) -> dict:
    values = frame[column]
    if values.dtype.kind in "fiu" and values.nunique() > 2 * SLICE_BINS:
        edges = np.unique(np.quantile(values, np.linspace(0, 1, SLICE_BINS + 1)))
        labels = [f"{low:.3g}-{high:.3g}" for low, high in zip(edges[:-1], edges[1:], strict=True)]
        values = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(labels) - 1)
        return {labels[k]: v for k, v in frame.groupby(values)["excess"].mean().items()}
    return {str(k): v for k, v in frame.groupby(values.astype(str))["excess"].mean().items()}


def plot_by_slice(grouped: dict, figure_size) -> object:
    frames = [frame for members in grouped.values() for frame in members]
    columns = sorted({c for frame in frames for c in frame.columns if c.startswith("slice_")})
    figure, axes = new_figure(1, max(1, len(columns)), size=(4.2 * max(1, len(columns)), 3.6))
    for axis, column in zip(axes[0], columns, strict=False):
        for offset, (name, members) in enumerate(grouped.items()):
            finals = [m[(m["step"] == m["step"].max()) & (m["split"] == "validation")]
                      for m in members]  # fmt: skip
            per_run = [slice_means(final, column) for final in finals if column in final]
            keys = sorted(set().union(*per_run)) if per_run else []
            if not keys:
                continue
            curves = [np.array([run.get(k, np.nan) for k in keys]) for run in per_run]
            mean, low, high = band(curves)
            x = np.arange(len(keys)) + 0.8 * offset / max(1, len(grouped))
            axis.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="o", capsize=3, label=name)
            axis.set_xticks(np.arange(len(keys)), keys, rotation=30, fontsize=7)
        axis.set_title(column.removeprefix("slice_"), fontsize=9)
        axis.axhline(0.0, color="0.4", linewidth=0.8)
    return figure


def write_excess_plots(runs, out_dir) -> list[str]:
    """The three figures into out_dir for runs that have records; returns the files written."""
    records = [load_records(run) for run in runs]
    grouped = groups(runs, records)
    if not grouped:
        return []
    has_reference = any(f.attrs["has_reference"] for ms in grouped.values() for f in ms)
    what = "excess loss (nats: model - exact optimum)" if has_reference else "loss (no optimum)"
    written = []
    for file_name, plot in (("excess_by_position.png", plot_by_position),
                            ("excess_over_training.png", plot_over_training)):  # fmt: skip
        figure, axes = new_figure(1, 1, size=(7.0, 4.2))
        plot(grouped, axes[0][0])
        finish(axes[0][0], what, has_reference)
        figure.tight_layout()
        written.append(str(save_figure(figure, Path(out_dir) / file_name)))
    figure = plot_by_slice(grouped, None)
    for axis in figure.axes:
        finish(axis, what, has_reference, legend=axis is figure.axes[0])
    figure.tight_layout()
    written.append(str(save_figure(figure, Path(out_dir) / "excess_by_slice.png")))
    return written


def finish(axis, ylabel: str, zero_line: bool, legend: bool = True) -> None:
    axis.set_ylabel(ylabel, fontsize=8)
    axis.grid(alpha=0.3)
    if zero_line:
        axis.axhline(0.0, color="0.3", linewidth=0.8, linestyle="--")
    if legend and axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=7)
