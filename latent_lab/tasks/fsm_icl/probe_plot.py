"""Probe accuracy against layer: one colour per target, test solid, train dashed, the
majority-class baseline dotted."""

from __future__ import annotations

from pathlib import Path


def plot_probes(result: dict, path: str | Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = list(range(result["num_layers"]))
    figure, axis = plt.subplots(figsize=(max(4.5, 0.9 * len(layers) + 2.5), 3.8))
    for index, (name, scores) in enumerate(result["targets"].items()):
        colour = f"C{index}"
        axis.plot(layers, scores["test_accuracy"], "o-", color=colour, label=f"{name} (test)")
        axis.plot(layers, scores["train_accuracy"], "--", color=colour, alpha=0.6)
        axis.axhline(scores["majority_baseline"], color=colour, linestyle=":", linewidth=1)
    axis.set_xticks(layers, ["emb"] + [str(layer) for layer in layers[1:]])
    axis.set_xlabel("layer (emb = token embedding)")
    axis.set_ylabel("probe accuracy")
    axis.set_ylim(0.0, 1.02)
    axis.set_title(title, fontsize=9)
    axis.legend(
        fontsize=7, loc="lower right", title="dashed: train, dotted: majority", title_fontsize=7
    )
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
