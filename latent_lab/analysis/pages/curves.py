"""Compact curves from one run's positions.parquet (docs/spec/distance_to_optimum.md), for the
results pages' figures: means per evaluation (over training), per position bin at the final
evaluation, and per slice value over training (the first curve split only: the slice figures
show that one). Aggregated per run, never per example, so the
committed CSVs stay small; the page averages runs (seeds) itself."""

from __future__ import annotations

from pathlib import Path

IDS = ("grid", "arm", "pair")
MEANS = ("model_nll", "reference_nll", "accuracy", "reference_accuracy")
CURVE_FILES = {
    "curves_over_training.csv": (*IDS, "split", "step", "train_tokens", *MEANS),
    "curves_by_position.csv": (*IDS, "split", "step", "position", "width", *MEANS),
    "curves_by_slice.csv": (
        *IDS,
        "split",
        "step",
        "train_tokens",
        "slice",
        "value",
        "order",
        "n",
        *MEANS,
    ),
}
MAX_POSITION_BINS = 64  # long sequences: means per bin of positions
POSITIONS_FILE = "positions.parquet"


def load_positions(folder: Path):
    """The run's records with `accuracy` (the model's correct, as a float); positions the
    optimum does not score are left out when the run has an optimum at all."""
    import numpy as np
    import pandas as pd

    path = folder / POSITIONS_FILE
    if not path.is_file():
        return None
    frame = pd.read_parquet(path)
    reference = frame["reference_nll"].to_numpy(dtype=float)
    if not np.isnan(reference).all():
        frame = frame[~np.isnan(reference)]
    return frame.assign(accuracy=frame["correct"].astype(float)).reset_index(drop=True)


def means(groups) -> object:
    return groups[list(MEANS)].mean()


def over_training(frame, splits) -> list[dict]:
    part = frame[frame["split"].isin(splits)]
    table = means(part.groupby(["split", "step"]))
    tokens = part.groupby(["split", "step"])["train_tokens"].first()
    return [
        {"split": s, "step": int(step), "train_tokens": int(tokens[(s, step)]), **row}
        for (s, step), row in table.to_dict("index").items()
    ]


def by_position(frame, splits) -> list[dict]:
    """Each split at its last evaluation, positions in at most MAX_POSITION_BINS bins."""
    rows = []
    for split, part in frame[frame["split"].isin(splits)].groupby("split"):
        final = part[part["step"] == part["step"].max()]
        width = -(-int(final["position"].max() + 1) // MAX_POSITION_BINS)  # ceil
        start = (final["position"] // width) * width
        for position, row in means(final.groupby(start)).to_dict("index").items():
            rows.append(
                {
                    "split": split,
                    "step": int(final["step"].iloc[0]),
                    "position": int(position),
                    "width": width,
                    **row,
                }
            )
    return rows


def slice_labels(values, bins):
    """(label, order) per record: the value itself, or its bin `lo-hi` with the bin's index."""
    import numpy as np

    if bins is not None:  # the last bin includes its upper edge; values outside get their own
        edges, numbers = np.asarray(bins), values.to_numpy(dtype=float)
        index = np.clip(np.searchsorted(edges, numbers, "right") - 1, 0, len(edges) - 2)
        labels = np.array([f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
        labels = labels[index].astype(object)
        below, above, missing = numbers < edges[0], numbers > edges[-1], np.isnan(numbers)
        labels[below], labels[above], labels[missing] = f"<{edges[0]:g}", f">{edges[-1]:g}", "n/a"
        index = np.select([below, above, missing], [-1, len(edges) - 1, len(edges)], index)
        return labels, index
    if values.dtype.kind in "biuf":
        return values.astype(str).to_numpy(), values.to_numpy(dtype=float)
    return values.astype(str).to_numpy(), np.zeros(len(values))


def by_slice(frame, splits, slices) -> list[dict]:
    rows = []
    part = frame[frame["split"].isin(splits)]
    done = set()  # a slice listed twice (once per measure) is collected once
    for spec in slices:
        column = f"slice_{spec.name}"
        if column not in part or spec.name in done:
            continue
        done.add(spec.name)
        labels, order = slice_labels(part[column], spec.bins)
        keyed = part.assign(value=labels, order=order)
        grouped = keyed.groupby(["split", "step", "value", "order"])
        table = means(grouped).join(grouped.size().rename("n"))
        tokens = keyed.groupby(["split", "step"])["train_tokens"].first()
        for (split, step, value, rank), row in table.to_dict("index").items():
            rows.append(
                {
                    "split": split,
                    "step": int(step),
                    "slice": spec.name,
                    "value": value,
                    "order": float(rank),
                    "train_tokens": int(tokens[(split, step)]),
                    **row,
                    "n": int(row["n"]),
                }
            )
    return rows


def run_curves(grid, folder: Path, ids: dict) -> dict[str, list[dict]]:
    """file name -> rows for one run (nothing for a run without positions.parquet)."""
    frame = load_positions(folder)
    if frame is None or frame.empty:
        return {}
    files = list(CURVE_FILES)
    parts = (
        over_training(frame, grid.curve_splits),
        by_position(frame, grid.curve_splits),
        by_slice(frame, grid.curve_splits[:1], grid.slices),
    )
    return {name: [{**ids, **row} for row in rows] for name, rows in zip(files, parts, strict=True)}
