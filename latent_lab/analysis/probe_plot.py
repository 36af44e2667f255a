"""probes.png: one panel per target, its figure against layer (emb = the embedding layer):
soft targets the held-out KL to the posterior (lower is better), hard targets the test
accuracy. Solid: the trained model; dashed: the random-init control; dotted: the best constant
prediction. A target with several groups (GSSM: latent nodes) has one colour per group."""

from __future__ import annotations

from pathlib import Path

from latent_lab.analysis.figures import new_figure, save_figure

FIGURE = {"soft": ("kl_to_posterior", "baseline_kl", "KL(posterior || probe), nats"),
          "hard": ("test_accuracy", "majority_baseline", "probe accuracy (test)")}  # fmt: skip


def _lines(figures: dict) -> dict[str, dict]:
    return figures.get("groups") or {"": figures}


def plot_probes(result: dict, path: str | Path, title: str) -> Path:
    targets = result["targets"]
    layers = list(range(result["num_layers"]))
    width = max(4.5, 0.7 * len(layers) + 2.5)
    figure, axes = new_figure(1, len(targets), size=(width * len(targets), 3.8))
    for axis, (name, figures) in zip(axes[0], targets.items(), strict=True):
        key, base, label = FIGURE[figures["kind"]]
        random_init = result["controls"]["random_init"][name]
        top = 0.0
        for index, (group, trained) in enumerate(_lines(figures).items()):
            colour = f"C{index}"
            control = _lines(random_init)[group]
            axis.plot(layers, trained[key], "o-", color=colour, label=group or "trained")
            axis.plot(layers, control[key], "x--", color=colour, alpha=0.6)
            axis.axhline(trained[base], color=colour, linestyle=":", linewidth=1)
            top = max(top, trained[base], *trained[key], *control[key])
        axis.set_xticks(layers, ["emb"] + [str(layer) for layer in layers[1:]])
        axis.set_xlabel("layer")
        axis.set_ylabel(label)
        if figures["kind"] == "hard":
            axis.set_ylim(0.0, 1.02)
        else:
            axis.set_ylim(0.0, 1.1 * top or 1.0)
        axis.set_title(name, fontsize=9)
        axis.legend(fontsize=7, title="dashed: random init, dotted: constant", title_fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path, dpi=120)
