"""Fake finished runs for tests/test_results_pages.py: a grid YAML, a page spec, and run folders
(results.json and a tiny positions.parquet) of two arms x three seeds with known numbers."""

import json
from pathlib import Path

import numpy as np

# arm -> seed -> (excess loss, validation accuracy, shifted accuracy, exact entropy rate).
# A's accuracy is near 1, so its t interval must be clipped to [0, 1]; only B has seed 4, so
# the paired comparisons drop it and say so.
NUMBERS = {
    "arm_a": {
        1: (0.30, 0.97, 0.70, 0.510),
        2: (0.35, 0.99, 0.71, 0.515),
        3: (0.28, 0.90, 0.69, 0.512),
    },
    "arm_b": {
        1: (0.50, 0.60, 0.50, 0.520),
        2: (0.46, 0.66, 0.52, 0.521),
        3: (0.47, 0.58, 0.49, 0.522),
        4: (0.40, 0.70, 0.55, 0.519),
    },
}
LABELS = {"arm_a": "A", "arm_b": "B"}
BAYES_LOSS, BAYES_ACCURACY, UNIGRAM_LOSS, MAJORITY = 1.5, 0.9, 3.0, 0.2
STEPS = (10, 20)

SPEC = """
title: "Fake question"
question: Which arm does better?
scale: CPU scale, fake runs.
commands:
  - latent-lab launch {grid}
  - latent-lab results collect {spec} {runs}
  - latent-lab results page {spec}
derived:
  mean_accuracy: "eval_(shift_)?accuracy"
grids:
  - name: main
    title: The main grid
    grid: {grid}
    runs: {runs}
    arm: config_name
    arms: {{arm_a: A, arm_b: B}}
    metrics:
      - {{name: excess_loss, better: lower, label: excess loss, excess_of: eval_loss}}
      - {{name: eval_accuracy, better: higher, label: accuracy}}
      - {{name: eval_shift_accuracy, better: higher, label: shifted accuracy}}
    exact: [bayes_entropy_rate]
    compare:
      - {{a: arm_a, b: arm_b, metric: excess_loss}}
      - {{a: arm_a, b: arm_b, metric: eval_accuracy}}
    within:
      - {{a: eval_accuracy, b: eval_shift_accuracy}}
    against:
      - {{metric: eval_accuracy, value: baseline}}
    figures: [excess_over_training, loss_over_training, accuracy_over_training,
              excess_by_position, by_slice, slice_over_training, comparisons]
    slices:
      - {{name: seen, measure: accuracy}}
"""


def write_positions(folder: Path, seed: int, excess: float, accuracy: float) -> None:
    import pandas as pd

    rows = []
    for step in STEPS:
        gap = excess * (2.0 if step == STEPS[0] else 1.0)  # the excess halves by the last step
        for example in range(2):
            for position in range(4):
                rows.append({"step": step, "train_tokens": step * 100, "split": "validation",
                             "example": example, "position": position,
                             "model_nll": BAYES_LOSS + gap + 0.01 * position,
                             "reference_nll": BAYES_LOSS, "correct": (position + seed) % 2 == 0,
                             "reference_accuracy": BAYES_ACCURACY,
                             "slice_seen": position % 2 == 0})  # fmt: skip
    pd.DataFrame(rows).to_parquet(folder / "positions.parquet")


def results(arm: str, seed: int, numbers) -> dict:
    excess, accuracy, shifted, entropy = numbers
    return {
        "task": "gssm", "config_name": arm, "seed": seed, "model_type": "llama",
        "num_parameters": 1000, "wall_time_s": 10.0 + seed, "config": {"graph_seed": None},
        "metrics": {"excess_loss": excess, "eval_loss": BAYES_LOSS + excess,
                    "eval_accuracy": accuracy, "eval_shift_accuracy": shifted},
        "reference": {"bayes_loss": BAYES_LOSS, "bayes_accuracy": BAYES_ACCURACY,
                      "bayes_entropy_rate": entropy},
        "reference_for": {"eval_loss": "bayes_loss", "eval_accuracy": "bayes_accuracy"},
        "baseline": {"unigram_loss": UNIGRAM_LOSS, "majority_accuracy": MAJORITY},
        "baseline_for": {"eval_loss": "unigram_loss", "eval_accuracy": "majority_accuracy"},
    }  # fmt: skip


def make_project(tmp_path: Path, numbers=None) -> tuple[Path, Path]:
    """(spec path, runs folder): the fake runs, one unfinished run and one of another arm."""
    numbers = numbers or NUMBERS
    tmp_path.mkdir(parents=True, exist_ok=True)
    grid = tmp_path / "grid.yaml"
    grid.write_text("recipe: gssm\ngrid:\n  config: [arm_a, arm_b, arm_c]\nseeds: [1, 2, 3]\n")
    runs = tmp_path / "runs" / "fake"
    spec = tmp_path / "docs" / "results" / "topic.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(SPEC.format(grid=grid, runs=runs, spec=spec))
    write_runs(runs, numbers)
    (runs / "runs" / "arm_a-seed9").mkdir()  # launched, not finished
    other = runs / "runs" / "arm_c-seed1"
    other.mkdir()
    (other / "results.json").write_text(json.dumps(results("arm_c", 1, numbers["arm_a"][1])))
    return spec, runs


def write_runs(runs: Path, numbers) -> None:
    for arm, seeds in numbers.items():
        for seed, values in seeds.items():
            folder = runs / "runs" / f"{arm}-seed{seed}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "results.json").write_text(json.dumps(results(arm, seed, values)))
            write_positions(folder, seed, values[0], values[1])


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The cells of the first table after `heading`."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None else format(value, f".{digits}g")


def values(arm: str, index: int, seeds=None) -> np.ndarray:
    return np.array([NUMBERS[arm][seed][index] for seed in seeds or sorted(NUMBERS[arm])])
