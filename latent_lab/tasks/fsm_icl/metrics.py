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
from latent_lab.tasks.fsm_icl.reference import episode_references, transition_steps

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


def summarize_positions(positions) -> dict:
    """The metrics: the task's `evaluate` module (scoring/fsm_icl_accuracy) on the per-position
    records, one computation for the Trainer, evaluate_fsm and `evaluate.load` users."""
    from latent_lab.training.scorers import score

    return score("fsm_icl", "fsm_icl_accuracy", correct=positions.correct,
                 seen=positions.slices["seen"], model_nll=positions.model_nll,
                 bayes_correct_prob=positions.reference_accuracy,
                 bayes_nll=positions.reference_nll)  # fmt: skip


def position_slices(sequence, labels, vocab: FSMVocab) -> dict[str, np.ndarray]:
    """At each scored position: times_seen (earlier occurrences of its (state, action) in the
    sequence), query_step (its index within the query walk, -1 in a demonstration) and
    num_demos (demonstration walks before the query)."""
    tokens = np.asarray(sequence)
    query_at = np.flatnonzero(tokens == vocab.query)
    query_start = int(query_at[0]) if query_at.size else len(tokens)
    num_demos = int((tokens[:query_start] == vocab.eos).sum())
    counts: dict[tuple[int, int], int] = {}
    times_seen, query_step, step = {}, {}, 0
    for position, state, action, _ in transition_steps(tokens, vocab):
        times_seen[position] = counts.get((state, action), 0)
        counts[(state, action)] = times_seen[position] + 1
        query_step[position] = step if position > query_start else -1
        step += position > query_start
    scored = np.flatnonzero(np.asarray(labels) != IGNORE_INDEX)
    return {
        "times_seen": np.array([times_seen.get(int(t), 0) for t in scored], dtype=np.int64),
        "query_step": np.array([query_step.get(int(t), -1) for t in scored], dtype=np.int64),
        "num_demos": np.full(len(scored), num_demos, dtype=np.int64),
    }


def row_positions(example, sequence, labels, predictions, nll, references, vocab):
    """One row's Positions: its scored (labelled) positions with the stored exact reference."""
    from latent_lab.training.positions import Positions

    labels = np.asarray(labels)
    scored = np.flatnonzero(labels != IGNORE_INDEX)
    seen, correct_prob, true_prob = (np.asarray(r) for r in references)
    with np.errstate(divide="ignore"):
        reference_nll = -np.log(np.asarray(true_prob[scored], dtype=np.float64))
    slices = {"seen": seen[scored] != 0, **position_slices(sequence, labels, vocab)}
    return Positions(np.full(len(scored), example), scored, np.asarray(nll)[scored],
                     np.asarray(predictions)[scored] == labels[scored], reference_nll,
                     correct_prob[scored], slices)  # fmt: skip


def concatenate(parts: list):
    """One Positions from per-row ones (in row order)."""
    from latent_lab.training.positions import Positions

    if not parts:
        empty = np.zeros(0)
        names = ("seen", "times_seen", "query_step", "num_demos")
        return Positions(empty, empty, empty, empty.astype(bool), empty, empty,
                         {name: empty for name in names})  # fmt: skip
    columns = ("example", "position", "model_nll", "correct", "reference_nll",
               "reference_accuracy")  # fmt: skip
    arrays = [np.concatenate([getattr(part, name) for part in parts]) for name in columns]
    slices = {name: np.concatenate([part.slices[name] for part in parts])
              for name in parts[0].slices}  # fmt: skip
    return Positions(*arrays, slices)


class FSMMetrics:
    """`compute_metrics` for transformers.Trainer (needs include_for_metrics=["inputs"] and
    `preprocess_logits_for_metrics` above). Not for batch_eval_metrics."""

    def __init__(self, num_states: int, num_actions: int, absorbing: bool, vocab: FSMVocab):
        self.shape = (num_states, num_actions, absorbing)
        self.vocab = vocab
        self.references: dict[bytes, tuple[np.ndarray, ...]] = {}
        self.positions = None  # the last evaluation's records (the runner logs them)

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
        self.positions = concatenate([
            row_positions(i, seq, labels_row, predictions[i, : len(seq)], nll[i, : len(seq)],
                          self.references[_sequence_key(seq, labels_row)], self.vocab)
            for i, (seq, labels_row) in enumerate(rows)
        ])  # fmt: skip
        return summarize_positions(self.positions)

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
            parts.append(row_positions(start + index, row["input_ids"], row["labels"],
                                       predictions[index, :length], nll[index, :length],
                                       references, vocab))  # fmt: skip
    model.train(was_training)
    return summarize_positions(concatenate(parts))
