"""Figures derived from the per-position records (docs/spec/distance_to_optimum.md): the
excess curve and the training tokens to reach an excess loss at or below eps."""

from __future__ import annotations

import math


def excess_curve(summaries: list[dict]) -> list[dict]:
    """{step, train_tokens, split, excess_loss, excess_accuracy} per recorded evaluation
    (excess = model - optimum for loss, optimum - model for accuracy; None without one)."""
    curve = []
    for entry in summaries:
        loss, reference = entry["loss"], entry["reference_loss"]
        accuracy, best = entry["accuracy"], entry["reference_accuracy"]
        curve.append({
            "step": entry["step"],
            "train_tokens": entry["train_tokens"],
            "split": entry["split"],
            "excess_loss": None if reference is None else loss - reference,
            "excess_accuracy": None if best is None else best - accuracy,
        })  # fmt: skip
    return curve


def tokens_to_excess_below(curve: list[dict], eps: float, split: str = "validation"):
    """The first evaluated train_tokens at which the split's excess loss is <= eps, linearly
    interpolated between evaluations; None if never reached."""
    points = sorted((entry["train_tokens"], entry["excess_loss"]) for entry in curve
                    if entry["split"] == split and entry["excess_loss"] is not None)  # fmt: skip
    previous = None
    for tokens, excess in points:
        if excess <= eps:
            if previous is None or previous[1] <= eps:
                return float(tokens)
            (t0, e0), (t1, e1) = previous, (tokens, excess)
            return float(t0 + (e0 - eps) / (e0 - e1) * (t1 - t0))
        previous = (tokens, excess)
    return None


def threshold_metrics(curve: list[dict], thresholds) -> dict:
    """metrics["train_tokens_to_excess_below_<eps>"] for each eps reached."""
    found = {}
    for eps in thresholds:
        tokens = tokens_to_excess_below(curve, float(eps))
        if tokens is not None and math.isfinite(tokens):
            found[f"train_tokens_to_excess_below_{float(eps):g}"] = tokens
    return found
