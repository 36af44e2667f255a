"""Char-stream per-position records: every predicted character of every evaluation window, the
model's NLL beside the exact per-character optimum (reference.py: NaN before the window's first
newline, where the line's start is unseen), and the slices line_part (prompt | answer; unknown
when the line's start is outside the window), answer_index (the character's index within the
answer, -1 elsewhere) and line_length (-1 when the line is cut by the window)."""

from __future__ import annotations

import numpy as np


def preprocess_logits_for_metrics(logits, labels):
    """(NLL of each next character, argmax), (N, T - 1): column t predicts token t + 1."""
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    log_probs = logits[:, :-1].float().log_softmax(-1)
    targets = labels[:, 1:]
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return nll, log_probs.argmax(-1)


def line_slices(text: str, separator: str) -> dict[str, list]:
    """For each character after the first (what column t of the window predicts)."""
    parts, answer_index, lengths = [], [], []
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    ends = [i for i, c in enumerate(text) if c == "\n"] + [len(text)]
    for position in range(1, len(text)):
        line = max(k for k, start in enumerate(starts) if start <= position)
        start, end = starts[line], ends[line]
        whole = line > 0 and end < len(text)  # both ends of the line inside the window
        lengths.append(end - start if whole else -1)
        if line == 0:  # the line's start is before the window: its prompt is unseen
            parts.append("unknown")
            answer_index.append(-1)
            continue
        cut = text.find(separator, start, end)
        # the prompt ends with the separator; not in sight yet (the window ends first): prompt
        boundary = cut + len(separator) if cut >= 0 else len(text)
        parts.append("prompt" if position < boundary else "answer")
        answer_index.append(position - boundary if position >= boundary else -1)
    return {"line_part": parts, "answer_index": answer_index, "line_length": lengths}


class CharStreamMetrics:
    """compute_metrics: the records (self.positions) and their means. eval_loss is every
    position's mean NLL (the course's loss); scored_loss and reference_nll are over the
    positions the optimum scores (after a window's first newline), so excess_loss compares
    like with like."""

    def __init__(self, reference, vocabulary, separator: str):
        self.reference, self.vocabulary, self.separator = reference, vocabulary, separator
        self.positions = None

    def __call__(self, prediction) -> dict:
        from latent_lab.training.positions import Positions

        nll, argmax = (np.asarray(array) for array in prediction.predictions)
        tokens = np.asarray(prediction.inputs)
        count, columns = nll.shape
        if self.reference is not None:
            reference_nll, reference_accuracy = self.reference.score(tokens)
        else:
            reference_nll = reference_accuracy = np.full(nll.shape, np.nan)
        rows = ["".join(self.vocabulary[i] for i in row) for row in tokens.tolist()]
        slices = [line_slices(text, self.separator) for text in rows]
        self.positions = Positions(
            example=np.repeat(np.arange(count), columns),
            position=np.tile(np.arange(1, columns + 1), count),
            model_nll=nll.ravel(),
            correct=(argmax == tokens[:, 1:]).ravel(),
            reference_nll=reference_nll.ravel(),
            reference_accuracy=reference_accuracy.ravel(),
            slices={name: np.concatenate([s[name] for s in slices]) for name in slices[0]},
        )
        return self.summary()

    def summary(self) -> dict:
        positions = self.positions
        scored = ~np.isnan(positions.reference_nll)
        metrics = {"accuracy": positions.means()["accuracy"]}
        if scored.any():
            scored_loss = float(positions.model_nll[scored].mean())
            reference = float(positions.reference_nll[scored].mean())
            metrics["scored_loss"] = scored_loss
            metrics["reference_nll"] = reference
            metrics["excess_loss"] = scored_loss - reference
            metrics["reference_accuracy"] = float(positions.reference_accuracy[scored].mean())
        return metrics
