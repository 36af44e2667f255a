"""FSM in-context-learning metrics on the scored (labelled) positions, next to exact references.

Keys: accuracy, accuracy_seen, accuracy_unseen, frac_seen, bayes_accuracy (the Bayes-optimal
predictor's expected accuracy on the same positions, exact under the generator, see
reference.py; on the train split only approximate, see data_builders/fsm_icl.py),
bayes_accuracy_unseen, scored_loss (mean cross-entropy per scored token; named so it does not
replace Trainer's eval_loss, a mean of per-batch means), bayes_loss (the optimal cross-entropy)
and num_scored. Trainer prefixes them with eval_. NaN where a subset is empty.

How the references reach `compute_metrics`: Trainer drops dataset columns the model does not
take, so the seen flags and Bayes probabilities cannot ride along with the batch. Both depend
only on the token sequence (and S, A, absorbing), so `FSMMetrics` recovers them from the inputs:
Trainer passes those with `include_for_metrics=["inputs"]` (the runner sets it for a TaskRun
with metrics_need_inputs, as run.py's), and FSMMetrics looks every sequence up in the
references the dataset stores (a sequence it does not know is computed exactly).
`preprocess_logits_for_metrics` reduces the logits to label-aligned argmax ids and label NLLs,
so memory stays small. Trainer gathers predictions, labels and inputs across processes before
calling compute_metrics, which is a pure function of them: every process gets the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latent_lab.errors import UserError
from latent_lab.tasks.fsm_icl.generator import IGNORE_INDEX, FSMVocab
from latent_lab.tasks.fsm_icl.reference import episode_references

REFERENCE_COLUMNS = ("seen_mask", "bayes_correct_prob", "bayes_true_prob")


@dataclass
class FSMCollator:
    """Right-pads unpadded rows: input_ids with <pad>, labels with -100, plus attention_mask.
    Other columns are ignored, so the model only sees what it takes."""

    pad_token_id: int

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        input_ids = torch.full((len(features), longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), longest), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), longest), dtype=torch.long)
        for row, feature in enumerate(features):
            length = len(feature["input_ids"])
            input_ids[row, :length] = torch.as_tensor(feature["input_ids"])
            labels[row, :length] = torch.as_tensor(feature["labels"])
            attention_mask[row, :length] = 1
        return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def preprocess_logits_for_metrics(logits, labels) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted ids, NLL of the label), both aligned with labels: position t holds what the
    model predicted for token t from the logits at t-1 (-100 and 0 where t is not labelled)."""
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    targets = labels[:, 1:]
    scored = targets != IGNORE_INDEX
    log_probs = logits[:, :-1].float().log_softmax(-1)
    nll = -log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    predictions = torch.where(scored, log_probs.argmax(-1), IGNORE_INDEX)
    nll = torch.where(scored, nll, 0.0)
    first = torch.full_like(labels[:, :1], IGNORE_INDEX)
    return torch.cat([first, predictions], 1), torch.cat([torch.zeros_like(nll[:, :1]), nll], 1)


def summarize_positions(correct, seen, bayes_correct_prob, bayes_true_prob, nll) -> dict:
    """The metrics from flat per-scored-position arrays."""
    correct = np.asarray(correct, dtype=bool)
    seen = np.asarray(seen, dtype=bool)
    bayes_correct_prob = np.asarray(bayes_correct_prob, dtype=np.float64)

    def mean(values, mask=None) -> float:
        values = np.asarray(values, dtype=np.float64)
        values = values if mask is None else values[mask]
        return float(values.mean()) if values.size else float("nan")

    with np.errstate(divide="ignore"):
        bayes_nll = -np.log(np.asarray(bayes_true_prob, dtype=np.float64))
    return {
        "accuracy": mean(correct),
        "accuracy_seen": mean(correct, seen),
        "accuracy_unseen": mean(correct, ~seen),
        "frac_seen": mean(seen),
        "bayes_accuracy": mean(bayes_correct_prob),
        "bayes_accuracy_unseen": mean(bayes_correct_prob, ~seen),
        "scored_loss": mean(nll),
        "bayes_loss": mean(bayes_nll),
        "num_scored": int(correct.size),
    }


class FSMMetrics:
    """`compute_metrics` for transformers.Trainer (needs include_for_metrics=["inputs"] and
    `preprocess_logits_for_metrics` above). Not for batch_eval_metrics."""

    def __init__(self, num_states: int, num_actions: int, absorbing: bool, vocab: FSMVocab):
        self.shape = (num_states, num_actions, absorbing)
        self.vocab = vocab
        self.references: dict[bytes, tuple[np.ndarray, ...]] = {}

    @classmethod
    def from_dataset(cls, dataset) -> FSMMetrics:
        """Reads S, A, the absorbing flag and the vocabulary from the rows and keeps their
        stored references (if the columns are there)."""
        first = dataset[0]
        absorbing = bool(first["absorbing_state"] >= 0)
        vocab = FSMVocab(first["s_max"], first["a_max"])
        metrics = cls(first["num_states"], first["num_actions"], absorbing, vocab)
        if all(column in dataset.column_names for column in REFERENCE_COLUMNS):
            columns = dataset.select_columns(["input_ids", "labels", *REFERENCE_COLUMNS])
            for row in columns.with_format("numpy"):
                metrics.references[_sequence_key(row["input_ids"], row["labels"])] = tuple(
                    np.asarray(row[column]) for column in REFERENCE_COLUMNS
                )
        return metrics

    def __call__(self, eval_prediction) -> dict:
        if eval_prediction.inputs is None:
            raise UserError(
                "include_for_metrics: FSM metrics need the input ids; set "
                "include_for_metrics=['inputs'] in the training arguments"
            )
        predictions, nll = eval_prediction.predictions
        labels = np.asarray(eval_prediction.label_ids)
        inputs = np.asarray(eval_prediction.inputs)
        rows = []
        for row, tokens in enumerate(inputs):
            sequence = tokens[(tokens != IGNORE_INDEX) & (tokens != self.vocab.pad)]
            rows.append((sequence, labels[row, : len(sequence)]))
        self._add_missing_references(rows)
        parts = [
            _scored_parts(
                predictions[i, : len(seq)],
                nll[i, : len(seq)],
                labels_row,
                self.references[_sequence_key(seq, labels_row)],
            )
            for i, (seq, labels_row) in enumerate(rows)
        ]
        return summarize_positions(*_concatenate(parts))

    def _add_missing_references(self, rows) -> None:
        """Exact references for (sequence, labels) the dataset did not store (computed once)."""
        missing = {_sequence_key(*row): row for row in rows}
        missing = {key: row for key, row in missing.items() if key not in self.references}
        computed = episode_references(list(missing.values()), *self.shape, self.vocab)
        for key, reference in zip(missing, computed, strict=True):
            self.references[key] = (reference.seen, reference.correct_prob, reference.true_prob)


def _sequence_key(input_ids, labels) -> bytes:
    """References depend on the tokens and on which positions are scored."""
    scored = np.asarray(labels) != IGNORE_INDEX
    return np.asarray(input_ids, dtype=np.int64).tobytes() + scored.tobytes()


def _scored_parts(predictions, nll, labels, references) -> tuple[np.ndarray, ...]:
    """(correct, seen, bayes_correct_prob, bayes_true_prob, nll) at one row's scored positions."""
    labels = np.asarray(labels)
    scored = labels != IGNORE_INDEX
    seen, correct_prob, true_prob = (np.asarray(r) for r in references)
    correct = np.asarray(predictions)[scored] == labels[scored]
    return (
        correct,
        seen[scored] != 0,
        correct_prob[scored],
        true_prob[scored],
        np.asarray(nll)[scored],
    )


def _concatenate(parts) -> list[np.ndarray]:
    if not parts:
        return [np.zeros(0)] * 5
    return [np.concatenate(column) for column in zip(*parts, strict=True)]


def trainer_metric_hooks(eval_dataset) -> dict:
    """Keyword arguments for Trainer (or TaskRun): compute_metrics and
    preprocess_logits_for_metrics. Trainer must pass the inputs too: include_for_metrics=
    ["inputs"] in TrainingArguments (TaskRun.metrics_need_inputs=True does it)."""
    return {
        "compute_metrics": FSMMetrics.from_dataset(eval_dataset),
        "preprocess_logits_for_metrics": preprocess_logits_for_metrics,
    }


@torch.no_grad()
def evaluate_fsm(model, dataset, batch_size: int = 64) -> dict:
    """The same metrics in the project's own loop (probes, tests), from the stored references."""
    vocab = FSMVocab(dataset[0]["s_max"], dataset[0]["a_max"])
    collate = FSMCollator(vocab.pad)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    parts = []
    for start in range(0, len(dataset), batch_size):
        rows = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
        batch = collate(rows)
        logits = model(
            input_ids=batch["input_ids"].to(device),
            attention_mask=batch["attention_mask"].to(device),
        ).logits
        predictions, nll = preprocess_logits_for_metrics(logits, batch["labels"].to(device))
        predictions, nll = predictions.cpu().numpy(), nll.cpu().numpy()
        for index, row in enumerate(rows):
            length = len(row["input_ids"])
            references = [row[column] for column in REFERENCE_COLUMNS]
            parts.append(
                _scored_parts(
                    predictions[index, :length], nll[index, :length], row["labels"], references
                )
            )
    model.train(was_training)
    return summarize_positions(*_concatenate(parts))
