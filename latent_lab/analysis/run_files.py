"""Reading a finished run folder: `results.json` (what the recipe wrote) and the Hugging Face
`trainer_state.json` whose `log_history` holds the loss and metric curves."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.errors import UserError

RESULTS_FILE = "results.json"
TRAINER_STATE_FILE = "trainer_state.json"
TRAIN_LOSS_KEY = "loss"  # Trainer logs the running training loss under "loss"
EVAL_LOSS_KEY = "eval_loss"
EVAL_PREFIX = "eval_"


@dataclass
class RunFolder:
    """One run's results and training log, read once."""

    folder: Path
    results: dict
    log_history: list[dict] = field(default_factory=list)
    display_name: str | None = None  # set by comparisons when run names collide

    @property
    def label(self) -> str:
        return self.display_name or str(self.results.get("run_name") or self.folder.name)

    @property
    def metrics(self) -> dict:
        return dict(self.results.get("metrics") or {})

    @property
    def config(self) -> dict:
        return dict(self.results.get("config") or {})

    def reference(self, metric: str) -> tuple[str, float] | None:
        """(reference key, exact value) for a metric, through results.json `reference_for`.
        Logged eval metrics carry Trainer's `eval_` prefix; results.json may not."""
        reference_for = self.results.get("reference_for") or {}
        references = self.results.get("reference") or {}
        for name in _name_variants(metric):
            key = reference_for.get(name)
            if key is not None and references.get(key) is not None:
                return key, references[key]
        return None

    def series(self, key: str) -> tuple[list[float], list[float]]:
        """(steps, values) of one logged quantity, in logging order."""
        points = [
            (entry["step"], entry[key])
            for entry in self.log_history
            if key in entry and "step" in entry and _is_number(entry[key])
        ]
        return [step for step, _ in points], [value for _, value in points]

    def logged_accuracy_keys(self) -> list[str]:
        keys = {key for entry in self.log_history for key in entry if key.endswith("accuracy")}
        return sorted(keys)


def load_run(run_dir: str | os.PathLike) -> RunFolder:
    """Read a run folder; a missing folder or results.json is a user error naming the fix."""
    folder = Path(run_dir)
    if not folder.is_dir():
        raise UserError(
            f"{folder}: no such run folder; pass the --output_dir of a finished training run"
        )
    results_path = folder / RESULTS_FILE
    if not results_path.is_file():
        raise UserError(
            f"{folder}: no {RESULTS_FILE} here; pass the --output_dir of a finished training "
            "run (results.json is written when training ends)"
        )
    results = _read_json(results_path)
    if not isinstance(results, dict):
        raise UserError(f"{results_path}: expected a JSON object; re-run the training")
    return RunFolder(folder=folder, results=results, log_history=_read_log_history(folder))


def load_runs(run_dirs) -> list[RunFolder]:
    return [load_run(run_dir) for run_dir in run_dirs]


def trainer_state_path(folder: Path) -> Path | None:
    """The run's trainer_state.json, or the latest checkpoint's if training stopped early."""
    top = folder / TRAINER_STATE_FILE
    if top.is_file():
        return top
    checkpoints = [
        path
        for path in folder.glob(f"checkpoint-*/{TRAINER_STATE_FILE}")
        if path.parent.name.removeprefix("checkpoint-").isdigit()
    ]
    if not checkpoints:
        return None
    return max(checkpoints, key=lambda path: int(path.parent.name.removeprefix("checkpoint-")))


def _read_log_history(folder: Path) -> list[dict]:
    path = trainer_state_path(folder)
    if path is None:
        return []
    state = _read_json(path)
    history = state.get("log_history") if isinstance(state, dict) else None
    return [entry for entry in history or [] if isinstance(entry, dict)]


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}; check the path") from None
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: invalid JSON ({error.msg}, line {error.lineno})") from None


def _name_variants(metric: str) -> list[str]:
    if metric.startswith(EVAL_PREFIX):
        return [metric, metric.removeprefix(EVAL_PREFIX)]
    return [metric, EVAL_PREFIX + metric]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
