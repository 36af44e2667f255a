"""The tasks' scoring as `evaluate` modules, loaded by path (offline: no Hub lookup), once per
process. A module lives in its task's package: latent_lab/tasks/<task>/scoring/<name>/<name>.py.
The Trainer metrics call these modules, so the numbers a user gets from
`evaluate.load(<path>)` are the same computation as a run's."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

_COMPUTE = threading.Lock()  # a loaded module keeps state while it computes


def scorer_path(task: str, name: str) -> Path:
    return Path(__file__).resolve().parents[1] / "tasks" / task / "scoring" / name


@functools.cache
def load_scorer(task: str, name: str):
    """In memory: every process of a distributed run computes on the gathered values itself,
    so no cache file is shared (or locked) between them."""
    import evaluate

    return evaluate.load(str(scorer_path(task, name)), keep_in_memory=True)


def score(task: str, name: str, **columns) -> dict:
    scorer = load_scorer(task, name)
    with _COMPUTE:
        return scorer.compute(**columns)
