"""GSSM evaluation beside the exact Bayes-optimal predictor, on exactly the evaluated sequences.

Positions: a sequence X(1..T) is fed as [BOS, X(1), ..., X(T)] (BOS = dim X, the one extra
vocabulary entry), so the causal LM predicts all T tokens, X(1) included, and Trainer's
eval_loss is the mean of -ln q(X(t) | X(1..t-1)) over t = 1..T: the same positions, and the
same per-token mean, as bayes_loss (docs/spec/gssm.md). Sequences all have length T, so Trainer's
per-batch means weighted by batch size are exactly the per-token mean.

Metric names (spec): eval_loss, eval_accuracy (argmax over the whole vocabulary, BOS included),
bayes_loss, bayes_accuracy and excess_loss = eval_loss - bayes_loss; with another metric key
prefix (a final evaluation of a `test` split) they are test_bayes_loss, test_excess_loss, ...

Distributed: Trainer gathers the per-position model NLLs, argmaxes and input ids from every
process before `compute_metrics`, which looks each sequence's Bayes values up by its tokens
(computing any it does not know with the exact filter): every process gets the same numbers.
The per-position records (positions.parquet) are built here, and every metric is their mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import Trainer

from latent_lab.tasks.gssm.model import bayes_filter
from latent_lab.training.recording import PositionRecording


@dataclass
class GSSMCollator:
    """Rows {"input_ids": X(1..T)} (lists or tensors, all of length T) -> input_ids and labels
    [BOS, X(1..T)] of shape (batch, T + 1). The model shifts labels, so BOS is never a target."""

    bos_token_id: int

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        rows = [torch.as_tensor(f["input_ids"], dtype=torch.long) for f in features]
        if len({len(row) for row in rows}) != 1:
            raise ValueError("GSSM sequences in a batch must all have the same length")
        tokens = torch.stack(rows)
        bos = torch.full((len(rows), 1), self.bos_token_id, dtype=torch.long)
        input_ids = torch.cat([bos, tokens], dim=1)
        # all ones: nothing is padded; it lets Trainer count training tokens without padding
        mask = torch.ones_like(input_ids)
        # BOS is never a target: -100, or Trainer's num_items_in_batch counts it and the loss it
        # reports is T/(T+1) of the true per-token mean
        labels = input_ids.clone()
        labels[:, 0] = -100
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def preprocess_logits_for_metrics(logits, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-position NLL in nats, argmax), both (batch, T): position t scores X(t) from the
    logits after [BOS, X(1..t-1)]."""
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    log_probs = logits[:, :-1].float().log_softmax(-1)
    targets = labels[:, 1:]
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return nll, log_probs.argmax(-1)


class BayesTable:
    """Per-position exact values of known sequences, looked up by their tokens: the optimum's
    NLL, argmax, top probability (its expected accuracy) and predictive entropy."""

    def __init__(self, graph, kernels: dict, tokens: np.ndarray):
        self.graph, self.kernels = graph, kernels
        self.rows: dict[bytes, tuple[np.ndarray, ...]] = {}
        self.add(np.asarray(tokens, dtype=np.int64))

    def add(self, tokens: np.ndarray) -> None:
        result = bayes_filter(self.graph, self.kernels, tokens)
        values = zip(tokens, result.nll, result.predictions, result.top_probability,
                     result.entropy, strict=True)  # fmt: skip
        for row, *exact in values:
            self.rows[row.tobytes()] = tuple(exact)

    def lookup(self, tokens: np.ndarray) -> tuple[np.ndarray, ...]:
        """(nll, argmax, top_probability, entropy), each shaped like `tokens`."""
        tokens = np.ascontiguousarray(tokens, dtype=np.int64)
        unknown = [row for row in tokens if row.tobytes() not in self.rows]
        if unknown:
            self.add(np.stack(unknown))
        found = [self.rows[row.tobytes()] for row in tokens]
        return tuple(np.stack([f[i] for f in found]) for i in range(4))


class GSSMMetrics:
    """`compute_metrics` for Trainer (needs include_for_metrics=["inputs"] and
    `preprocess_logits_for_metrics` above): the per-position records (self.positions: every
    token of every gathered sequence, with the exact optimum's NLL, expected accuracy and
    predictive entropy) and their means: accuracy, bayes_loss and bayes_accuracy (None in
    context mode: no exact reference). The runner's Trainer sets eval_loss to the records'
    mean NLL."""

    def __init__(self, table: BayesTable | None):
        self.table = table
        self.positions = None

    def __call__(self, eval_prediction) -> dict:
        from latent_lab.training.positions import Positions

        if eval_prediction.inputs is None:
            raise ValueError("GSSMMetrics needs include_for_metrics=['inputs']")
        nll, predictions = (np.asarray(array) for array in eval_prediction.predictions)
        tokens = np.asarray(eval_prediction.inputs)[:, 1:]  # drop BOS
        count, length = tokens.shape
        exact = {}
        if self.table is not None:
            reference_nll, _, top, entropy = self.table.lookup(tokens)
            exact = dict(reference_nll=reference_nll.ravel(), reference_accuracy=top.ravel(),
                         slices={"posterior_entropy": entropy.ravel()})  # fmt: skip
        self.positions = Positions(
            example=np.repeat(np.arange(count), length),
            position=np.tile(np.arange(length), count),  # X(t) is input_ids[t - 1] of the row
            model_nll=nll.ravel(),
            correct=(predictions == tokens).ravel(),
            **exact,
        )
        if self.table is None:
            return {"accuracy": float(self.positions.means()["accuracy"])}
        from latent_lab.training.scorers import score

        scored = score("gssm", "gssm_excess_loss", model_nll=self.positions.model_nll,
                       correct=self.positions.correct, bayes_nll=self.positions.reference_nll,
                       bayes_top_prob=self.positions.reference_accuracy)  # fmt: skip
        return {name: scored[name] for name in ("accuracy", "bayes_loss", "bayes_accuracy")}


def reference_names(metrics: dict, prefix: str) -> None:
    """In place: {prefix}_bayes_* -> the spec's names (bayes_loss for eval, test_bayes_loss for
    a test split), plus excess_loss = {prefix}_loss - bayes_loss (same positions)."""
    if f"{prefix}_bayes_loss" not in metrics:
        return
    short = "" if prefix == "eval" else f"{prefix}_"
    bayes_loss = metrics.pop(f"{prefix}_bayes_loss")
    metrics[f"{short}bayes_loss"] = bayes_loss
    metrics[f"{short}bayes_accuracy"] = metrics.pop(f"{prefix}_bayes_accuracy")
    if f"{prefix}_loss" in metrics:
        metrics[f"{short}excess_loss"] = metrics[f"{prefix}_loss"] - bayes_loss


class GSSMTrainer(PositionRecording, Trainer):
    """Trainer whose evaluations log bayes_loss, bayes_accuracy and excess_loss under the
    spec's names, in the same log entry as eval_loss (a callback could only log them later);
    eval_loss is the records' mean (PositionRecording), set before the names are made."""

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None,
                        ignore_keys=None, metric_key_prefix="eval"):  # fmt: skip
        output = super().evaluation_loop(
            dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
        )
        reference_names(output.metrics, metric_key_prefix)
        return output
