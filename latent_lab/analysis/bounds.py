"""The range a metric can take, so intervals never leave it (an accuracy CI of [0.60, 1.05]
claims the impossible): accuracies and fractions lie in [0, 1], losses in [0, inf); excess and
advantage figures are differences and have no bound here."""

from __future__ import annotations

import math

UNBOUNDED = (-math.inf, math.inf)


def metric_bounds(name: str) -> tuple[float, float]:
    lowered = name.lower()
    if any(word in lowered for word in ("excess", "advantage", "difference", "tokens_to")):
        return UNBOUNDED
    if "accuracy" in lowered or lowered.startswith(("acc_", "frac_")) or "_frac_" in lowered:
        return 0.0, 1.0
    if lowered.endswith("loss") or lowered.endswith("nll"):
        return 0.0, math.inf
    return UNBOUNDED


def difference_bounds(name: str) -> tuple[float, float]:
    """The range of a difference of two values of the metric."""
    low, high = metric_bounds(name)
    return low - high, high - low


def clip_interval(low, high, bounds: tuple[float, float], values=()):
    """[low, high] within bounds; left as is when the values themselves leave the bounds (the
    name-based guess of the range was wrong for this metric)."""
    if low is None or high is None:
        return low, high
    if any(not bounds[0] <= value <= bounds[1] for value in values):
        return low, high
    return max(low, bounds[0]), min(high, bounds[1])
