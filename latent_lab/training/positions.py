"""Per-position records: every evaluation of every split appends one row per scored position
to <run_dir>/positions.parquet (docs/spec/distance_to_optimum.md): the model's NLL and
correctness beside the exact optimum's, with the task's slices.

A task's compute_metrics builds a `Positions` from the gathered predictions (the same arrays
on every process) and reports `positions.means()`: the scalar metrics ARE the means of the
records, one computation. The Trainer mixin (trainer.py) adds the step, the training tokens and
the split, and the runner writes the file on the main process.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

POSITIONS_FILE = "positions.parquet"
COLUMNS = ("step", "train_tokens", "split", "example", "position", "model_nll",
           "reference_nll", "correct", "reference_accuracy")  # fmt: skip


@dataclass
class Positions:
    """One evaluation of one split: equal-length arrays, one entry per scored position.
    reference_* are NaN where the task has no exact optimum; slices are named without the
    `slice_` prefix."""

    example: np.ndarray
    position: np.ndarray
    model_nll: np.ndarray
    correct: np.ndarray
    reference_nll: np.ndarray | None = None
    reference_accuracy: np.ndarray | None = None
    slices: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self):
        size = len(self.model_nll)
        nan = np.full(size, np.nan)
        self.example = np.asarray(self.example, dtype=np.int64)
        self.position = np.asarray(self.position, dtype=np.int64)
        self.model_nll = np.asarray(self.model_nll, dtype=np.float64)
        self.correct = np.asarray(self.correct, dtype=bool)
        self.reference_nll = nan if self.reference_nll is None else np.asarray(
            self.reference_nll, dtype=np.float64)  # fmt: skip
        self.reference_accuracy = nan if self.reference_accuracy is None else np.asarray(
            self.reference_accuracy, dtype=np.float64)  # fmt: skip
        lengths = {len(a) for a in (self.example, self.position, self.correct,
                                    self.reference_nll, self.reference_accuracy,
                                    *self.slices.values())}  # fmt: skip
        if lengths - {size}:
            raise ValueError(f"Positions: arrays of lengths {sorted(lengths | {size})}")

    def means(self) -> dict[str, float | None]:
        """loss, accuracy and the optimum's: the metrics this evaluation reports."""
        return {
            "loss": _mean(self.model_nll),
            "accuracy": _mean(self.correct),
            "reference_loss": _mean(self.reference_nll),
            "reference_accuracy": _mean(self.reference_accuracy),
        }

    def select(self, mask: np.ndarray) -> Positions:
        mask = np.asarray(mask, dtype=bool)
        return Positions(self.example[mask], self.position[mask], self.model_nll[mask],
                         self.correct[mask], self.reference_nll[mask],
                         self.reference_accuracy[mask],
                         {name: values[mask] for name, values in self.slices.items()})  # fmt: skip

    def columns(self, step: int, train_tokens: int, split: str) -> dict[str, np.ndarray]:
        size = len(self.model_nll)
        columns = {
            "step": np.full(size, step, dtype=np.int64),
            "train_tokens": np.full(size, train_tokens, dtype=np.int64),
            "split": np.full(size, split, dtype=object),
            "example": self.example,
            "position": self.position,
            "model_nll": self.model_nll,
            "reference_nll": self.reference_nll,
            "correct": self.correct,
            "reference_accuracy": self.reference_accuracy,
        }
        columns.update({f"slice_{name}": values for name, values in self.slices.items()})
        return columns


def _mean(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.isnan(values).all():
        return None
    return float(np.nanmean(values))


class PositionLog:
    """The records of a run, in order of evaluation; written as one Parquet file. With a
    `folder` (the training run's, on the main process) the file is rewritten after every
    evaluation, so a run killed later still has its records for `restore` on --resume."""

    def __init__(self, folder: str | None = None):
        self.parts: list[dict[str, np.ndarray]] = []
        self.summaries: list[dict] = []
        self.folder = folder

    def add(self, positions: Positions, step: int, train_tokens: int, split: str) -> None:
        """Record one evaluation; a second one of the same split at the same step (the final
        evaluation after training, maybe of the reloaded best model) replaces the first, so
        the records always match the metrics results.json reports."""
        for index, summary in enumerate(self.summaries):
            if (summary["step"], summary["split"]) == (step, split):
                del self.parts[index], self.summaries[index]
                break
        self.parts.append(positions.columns(step, train_tokens, split))
        self.summaries.append({"step": step, "train_tokens": train_tokens, "split": split,
                               **positions.means()})  # fmt: skip
        if self.folder is not None:
            self.write(self.folder)

    def restore(self, path, up_to_step: int) -> int:
        """Take back the evaluations at steps <= `up_to_step` from a killed run's records (the
        checkpoint a resumed run starts from); later ones are evaluated again. Returns how
        many evaluations were restored (0 without a file)."""
        import pyarrow.parquet as pq

        if not Path(path).is_file():
            return 0
        frame = pq.read_table(path).to_pandas()
        frame = frame[frame["step"] <= up_to_step]
        for (step, split), rows in frame.groupby(["step", "split"], sort=False):
            columns = {name: rows[name].to_numpy() for name in rows.columns}
            slices = {
                n.removeprefix("slice_"): v for n, v in columns.items() if n.startswith("slice_")
            }
            positions = Positions(columns["example"], columns["position"], columns["model_nll"],
                                  columns["correct"], columns["reference_nll"],
                                  columns["reference_accuracy"], slices)  # fmt: skip
            self.parts.append(
                positions.columns(int(step), int(rows["train_tokens"].iloc[0]), split)
            )
            self.summaries.append({"step": int(step), "split": split,
                                   "train_tokens": int(rows["train_tokens"].iloc[0]),
                                   **positions.means()})  # fmt: skip
        return len(self.summaries)

    def table(self):
        import pyarrow as pa

        tables = [pa.table({name: values for name, values in part.items()}) for part in self.parts]
        return pa.concat_tables(tables, promote_options="default") if tables else None

    def write(self, folder) -> str | None:
        """positions.parquet in `folder`, atomically; None when nothing was recorded."""
        import pyarrow.parquet as pq

        from latent_lab.files import write_bytes_atomic

        table = self.table()
        if table is None:
            return None
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        return str(write_bytes_atomic(f"{folder}/{POSITIONS_FILE}", buffer.getvalue()))


def split_name(metric_key_prefix: str) -> str:
    """Trainer's metric prefix -> the split: eval -> validation, eval_<shift> -> <shift>."""
    if metric_key_prefix == "eval":
        return "validation"
    return metric_key_prefix.removeprefix("eval_")


def log_spaced_steps(max_steps: int, points: int) -> list[int]:
    """`points` log-spaced integer steps in [1, max_steps] (fewer when they collide)."""
    if max_steps < 1 or points < 1:
        return []
    steps = np.unique(np.round(np.geomspace(1, max_steps, points)).astype(int))
    return [int(step) for step in steps]
