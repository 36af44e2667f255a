"""Heat-maps of the difficulty grid: one row per graph, one column per measure (alpha_Z across,
alpha_X up, log axes), every cell annotated, the target's contour and the solved pairs marked;
and the solved pairs as a table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from latent_lab.tasks.gssm.difficulty import MEASURES


def _edges(values: list[float]) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints (a single value gets one decade)."""
    logs = np.log10(values)
    if len(values) == 1:
        return 10.0 ** np.array([logs[0] - 0.5, logs[0] + 0.5])
    middle = (logs[1:] + logs[:-1]) / 2
    first, last = 2 * logs[0] - middle[0], 2 * logs[-1] - middle[-1]
    return 10.0 ** np.concatenate([[first], middle, [last]])


def _grid(records: list[dict], measure: str):
    """(alpha_X values, alpha_Z values, matrix) of one graph; a None alpha_Z (latents keep
    their own alphas) is drawn at 1."""
    x_values = sorted({r["alpha_X"] for r in records})
    z_values = sorted({1.0 if r["alpha_Z"] is None else r["alpha_Z"] for r in records})
    matrix = np.full((len(x_values), len(z_values)), np.nan)
    for record in records:
        z = 1.0 if record["alpha_Z"] is None else record["alpha_Z"]
        matrix[x_values.index(record["alpha_X"]), z_values.index(z)] = record[measure]
    return x_values, z_values, matrix


def _draw_panel(axis, records, measure, pairs, target, target_measure):
    import matplotlib.pyplot as plt

    x_values, z_values, matrix = _grid(records, measure)
    mesh = axis.pcolormesh(_edges(z_values), _edges(x_values), matrix, cmap="viridis",
                           vmin=0.0, vmax=max(1.0, float(np.nanmax(matrix))))  # fmt: skip
    axis.set_xscale("log")
    axis.set_yscale("log")
    for i, alpha_X in enumerate(x_values):
        for j, alpha_Z in enumerate(z_values):
            if not math.isnan(matrix[i, j]):
                axis.text(alpha_Z, alpha_X, f"{matrix[i, j]:.2f}", ha="center", va="center",
                          fontsize=6, color="white" if matrix[i, j] < 0.6 else "black")  # fmt: skip
    if target is not None and measure == target_measure and min(matrix.shape) >= 2:
        axis.contour(z_values, x_values, matrix, levels=[target], colors="red", linewidths=1)
    for pair in pairs:
        if pair.get("found"):
            alpha_Z = 1.0 if pair["alpha_Z"] is None else pair["alpha_Z"]
            axis.plot(alpha_Z, pair["alpha_X"], marker="*", color="red", markersize=10,
                      markeredgecolor="white")  # fmt: skip
    axis.set_xlabel("alpha_Z")
    axis.set_ylabel("alpha_X")
    plt.colorbar(mesh, ax=axis, label=measure)


def plot_difficulty(records: list[dict], path: Path, pairs: list[dict] | None = None) -> Path:
    """Write the heat-map PNG; returns its path."""
    from latent_lab.analysis.figures import new_figure, save_figure

    pairs = pairs or []
    graphs = list(dict.fromkeys(record["graph"] for record in records))
    height = 3.6 * len(graphs) + 0.5  # inches; margins below are fixed in inches too
    figure, axes = new_figure(len(graphs), len(MEASURES), size=(5.4 * len(MEASURES), height))
    for row, graph in enumerate(graphs):
        graph_records = [record for record in records if record["graph"] == graph]
        graph_pairs = [pair for pair in pairs if pair["graph"] == graph]
        target = graph_pairs[0]["target"] if graph_pairs else None
        target_measure = graph_pairs[0]["measure"] if graph_pairs else None
        for column, measure in enumerate(MEASURES):
            axis = axes[row][column]
            _draw_panel(axis, graph_records, measure, graph_pairs, target, target_measure)
            axis.set_title(f"{graph}: {measure}", fontsize=9)
    first = records[0]
    tokens = f"{first['num_sequences']} x {first['seq_len']} tokens each"
    figure.suptitle(f"GSSM difficulty: mean over graph seeds {first['graph_seeds']}, {tokens}",
                    fontsize=9)  # fmt: skip
    # Not tight_layout: measuring every annotation costs seconds on a busy machine.
    figure.subplots_adjust(left=0.08, right=0.96, bottom=0.6 / height, top=1 - 0.75 / height,
                           wspace=0.35, hspace=0.55)  # fmt: skip
    return save_figure(figure, path, dpi=120)


def _se(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def pairs_table(pairs: list[dict]) -> str:
    """The solved pairs as a markdown table, both measures beside the target."""
    header = ("| graph | pair | alpha_X | alpha_Z | bayes_entropy_rate (SE) | compression_rate "
              "| target (SE) | graph seeds |\n|---|---|---|---|---|---|---|---|\n")  # fmt: skip
    rows = []
    for pair in pairs:
        if not pair["found"]:
            rows.append(f"| {pair['graph']} | {pair['kind']} | not found: {pair['reason']} |")
            continue
        alphas = [f"{a:.4g}" if a is not None else "node alphas"
                  for a in (pair["alpha_X"], pair["alpha_Z"])]  # fmt: skip
        se = pair.get("bayes_entropy_rate_se")
        target_se = pair.get("target_se")
        rows.append(f"| {pair['graph']} | {pair['kind']} | {alphas[0]} | {alphas[1]} | "
                    f"{pair['bayes_entropy_rate']:.4f} ({_se(se)}) | "
                    f"{pair['compression_rate']:.4f} | {pair['measure']} = "
                    f"{pair['target']:.4f} ({_se(target_se)}) | "
                    f"{len(pair['graph_seeds'])} |")  # fmt: skip
    return header + "\n".join(rows) + "\n"
