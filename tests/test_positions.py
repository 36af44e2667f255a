"""Per-position records: columns from known predictions (hand-computed), their means as the
metrics, the Parquet file, and the figures derived from them (docs/spec/distance_to_optimum.md)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from latent_lab.training.excess import excess_curve, threshold_metrics, tokens_to_excess_below
from latent_lab.training.positions import (
    COLUMNS,
    PositionLog,
    Positions,
    log_spaced_steps,
    split_name,
)


def test_gssm_records_from_a_known_logits_matrix_give_the_hand_computed_columns():
    import torch

    from latent_lab.tasks.gssm.metrics import GSSMMetrics, preprocess_logits_for_metrics

    # One sequence [BOS=3, 0, 2]: logits at BOS favour 0 (2 vs 0 vs 0), at x=0 favour 1.
    logits = torch.tensor([[[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    inputs = torch.tensor([[3, 0, 2]])
    nll, argmax = preprocess_logits_for_metrics(logits, inputs)
    table = SimpleNamespace(lookup=lambda tokens: (np.array([[0.5, 0.25]]), None,
                                                   np.array([[0.6, 0.7]]),
                                                   np.array([[1.0, 0.9]])))  # fmt: skip
    metrics = GSSMMetrics(table)
    values = metrics(SimpleNamespace(predictions=(nll.numpy(), argmax.numpy()), inputs=inputs))
    positions = metrics.positions
    first = np.log(np.exp(2) + 3) - 2  # -ln softmax([2, 0, 0, 0])[0]
    second = np.log(np.e + 3)  # -ln softmax([0, 1, 0, 0])[2]
    np.testing.assert_allclose(positions.model_nll, [first, second], rtol=1e-6)
    assert positions.example.tolist() == [0, 0] and positions.position.tolist() == [0, 1]
    assert positions.correct.tolist() == [True, False]  # argmax 0 == 0; argmax 1 != 2
    assert positions.reference_nll.tolist() == [0.5, 0.25]
    assert positions.reference_accuracy.tolist() == [0.6, 0.7]
    assert positions.slices["posterior_entropy"].tolist() == [1.0, 0.9]
    assert values == {"accuracy": 0.5, "bayes_loss": 0.375, "bayes_accuracy": pytest.approx(0.65)}


def test_means_skip_missing_references_and_a_log_keeps_the_last_evaluation(tmp_path):
    positions = Positions([0, 0, 1], [1, 2, 1], [1.0, 2.0, 3.0], [True, False, True],
                          [0.5, np.nan, 1.5], None, {"seen": np.array([1, 0, 1])})  # fmt: skip
    assert positions.means() == {"loss": 2.0, "accuracy": pytest.approx(2 / 3),
                                 "reference_loss": 1.0, "reference_accuracy": None}  # fmt: skip
    assert positions.select(positions.slices["seen"] == 1).means()["loss"] == 2.0
    log = PositionLog()
    log.add(positions, step=5, train_tokens=40, split="validation")
    log.add(positions.select([True, False, False]), step=5, train_tokens=40, split="validation")
    log.add(positions, step=5, train_tokens=40, split="more_demos")
    frame = pd.read_parquet(log.write(tmp_path))
    assert list(frame.columns) == [*COLUMNS, "slice_seen"]
    assert frame.groupby("split").size().to_dict() == {"more_demos": 3, "validation": 1}


def test_split_names_and_log_spaced_steps():
    assert [split_name(p) for p in ("eval", "eval_long", "test")] == ["validation", "long", "test"]
    assert log_spaced_steps(1000, 4) == [1, 10, 100, 1000]
    assert log_spaced_steps(3, 8) == [1, 2, 3]  # collisions merge
    assert log_spaced_steps(0, 8) == []


def test_excess_curve_and_tokens_to_excess_below_interpolate_between_evaluations():
    summaries = [
        {"step": 1, "train_tokens": 100, "split": "validation", "loss": 2.0,
         "reference_loss": 1.0, "accuracy": 0.2, "reference_accuracy": 0.9},
        {"step": 2, "train_tokens": 300, "split": "validation", "loss": 1.05,
         "reference_loss": 1.0, "accuracy": 0.8, "reference_accuracy": 0.9},
        {"step": 2, "train_tokens": 300, "split": "long", "loss": 3.0,
         "reference_loss": None, "accuracy": 0.1, "reference_accuracy": None},
    ]  # fmt: skip
    curve = excess_curve(summaries)
    assert curve[0]["excess_loss"] == 1.0 and curve[0]["excess_accuracy"] == pytest.approx(0.7)
    assert curve[2]["excess_loss"] is None
    # excess 1.0 at 100 tokens, 0.05 at 300: 0.1 is crossed at 100 + 0.9 / 0.95 * 200
    assert tokens_to_excess_below(curve, 0.1) == pytest.approx(100 + 0.9 / 0.95 * 200)
    assert tokens_to_excess_below(curve, 0.01) is None
    assert threshold_metrics(curve, [0.1, 0.02]) == {
        "train_tokens_to_excess_below_0.1": pytest.approx(289.4736842)
    }
