"""Trivial baselines, reported beside the exact optimum so a metric reads as a fraction of the
gap between them: what a model gets without learning anything about the task's structure.

- chance accuracy: a uniform guess among the possible answers;
- majority accuracy: always the most frequent answer;
- unigram loss: the entropy of the scored targets' own token frequencies, the loss of the best
  predictor that ignores the context (fitted on the very targets it is scored on, so no model
  without context does better).
"""

from __future__ import annotations

from collections import Counter

import numpy as np


def unigram_loss(targets) -> float:
    """Entropy (nats) of the empirical distribution of `targets` (token ids, any shape)."""
    values = np.asarray(targets).ravel()
    if values.size == 0:
        return float("nan")
    _, counts = np.unique(values, return_counts=True)
    probabilities = counts / counts.sum()
    return float(-(probabilities * np.log(probabilities)).sum())


def majority_accuracy(answers) -> float:
    answers = list(answers)
    return Counter(answers).most_common(1)[0][1] / len(answers) if answers else float("nan")


def gap_closed(value: float, baseline: float, optimum: float) -> float:
    """(value - baseline) / (optimum - baseline): 0 at the baseline, 1 at the optimum (either
    direction: losses fall toward the optimum, accuracies rise)."""
    if optimum == baseline:
        return float("nan")
    return (value - baseline) / (optimum - baseline)
