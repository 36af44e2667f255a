"""Paired comparisons as markdown, CSV and a plot (per-seed differences, mean, both CIs)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from latent_lab.analysis.figures import new_figure, save_figure
from latent_lab.files import write_text_atomic

COLUMNS = (
    "field",
    "a",
    "b",
    "metric",
    "n_pairs",
    "mean_difference",
    "ci95_low",
    "ci95_high",
    "bootstrap_ci95_low",
    "bootstrap_ci95_high",
    "p_value",
    "wilcoxon_p_value",
    "seeds_for_power",
    "seeds",
    "differences",
    "dropped",
)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _cell(value):
    return " ".join(map(str, value)) if isinstance(value, list) else value


def markdown(comparisons) -> str:
    header = (
        "| metric | a | b | n | mean a - b | 95% CI (paired t) | 95% CI (bootstrap) | "
        "p (t) | p (Wilcoxon) | seeds for 80% power |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for c in comparisons:
        t_ci = f"[{_fmt(c.ci95_low)}, {_fmt(c.ci95_high)}]"
        boot = f"[{_fmt(c.bootstrap_ci95_low)}, {_fmt(c.bootstrap_ci95_high)}]"
        cells = [
            c.metric,
            f"{c.field}={c.a}",
            f"{c.field}={c.b}",
            c.n_pairs,
            _fmt(c.mean_difference),
            t_ci,
            boot,
            _fmt(c.p_value),
            _fmt(c.wilcoxon_p_value),
            _fmt(c.seeds_for_power),
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    for c in comparisons:
        pairs = ", ".join(
            f"seed {s}: {d:+.4g}" for s, d in zip(c.seeds, c.differences, strict=True)
        )
        lines.append(f"\n{c.metric}, {c.a} - {c.b}: {pairs or 'no common seed'}")
        if c.dropped:
            lines.append(f"dropped (only one arm has them): seeds {c.dropped}")
    return "\n".join(lines)


def write_csv(comparisons, path) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for c in comparisons:
        row = c.to_json()
        writer.writerow({k: _cell(row[k]) for k in COLUMNS})
    return write_text_atomic(path, buffer.getvalue())


def plot(comparisons, path) -> Path:
    figure, axes = new_figure(1, 1, size=(max(4.5, 1.6 * len(comparisons) + 2), 4.0))
    axis = axes[0][0]
    for x, c in enumerate(comparisons):
        first = x == 0
        axis.scatter(
            [x - 0.15] * len(c.differences),
            c.differences,
            s=14,
            color="0.45",
            zorder=3,
            label="per seed" if first else None,
        )
        if c.ci95_low is None:
            continue
        mean = c.mean_difference
        for offset, low, high, style, label in (
            (0.0, c.ci95_low, c.ci95_high, "o", "mean, 95% CI (paired t)"),
            (0.15, c.bootstrap_ci95_low, c.bootstrap_ci95_high, "s", "95% CI (bootstrap)"),
        ):
            axis.errorbar(
                [x + offset],
                [mean],
                yerr=[[mean - low], [high - mean]],
                fmt=style,
                capsize=4,
                label=label if first else None,
            )
    axis.axhline(0.0, color="0.3", linewidth=0.8, linestyle="--")
    labels = [f"{c.metric}\n{c.a} - {c.b}" for c in comparisons]
    axis.set_xticks(range(len(comparisons)), labels, fontsize=7)
    axis.set_ylabel("difference (a - b), paired by seed")
    axis.grid(alpha=0.3)
    if comparisons:
        axis.legend(fontsize=7)
    figure.tight_layout()
    return save_figure(figure, path)
