"""fsm_icl probe data (probes.py lists the targets): the first rows of the run's own dataset
(or the settings' builder config), read at the action token of every scored query step.
The posterior of an unseen step is the builder's exact reference (reference.py), computed
for the whole next-state vector rather than only the probabilities the dataset stores."""

from __future__ import annotations

import numpy as np

from latent_lab.analysis.probes import ProbeSet
from latent_lab.errors import UserError
from latent_lab.tasks.fsm_icl.generator import IGNORE_INDEX, FSMVocab
from latent_lab.tasks.fsm_icl.reference import next_state_posteriors, transition_steps

HARD_TARGETS = ("current_state", "next_state", "seen")


def query_steps(row) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Feature positions (the action token of each scored step) and the hard targets there."""
    input_ids, labels = np.asarray(row["input_ids"]), np.asarray(row["labels"])
    scored = np.flatnonzero(labels != IGNORE_INDEX)
    targets = {
        "current_state": input_ids[scored - 2],
        "next_state": labels[scored],
        "seen": np.asarray(row["seen_mask"])[scored].astype(np.int64),
    }
    return scored - 1, targets


def _shape(row) -> tuple[int, int, bool]:
    """(states, actions, absorbing): what the exact posterior of a row's FSM depends on."""
    return int(row["num_states"]), int(row["num_actions"]), int(row["absorbing_state"]) >= 0


def _unseen_steps(row, vocab: FSMVocab) -> list[tuple[int, np.ndarray, int]]:
    """(index among the scored steps, observed transition counts before it, its state) for
    every scored step whose (state, action) has not occurred before."""
    labels = np.asarray(row["labels"])
    scored = {int(t): k for k, t in enumerate(np.flatnonzero(labels != IGNORE_INDEX))}
    num_states = _shape(row)[0]
    steps, observed = [], set()
    counts = np.zeros((num_states, num_states), np.int64)
    for position, state, action, next_state in transition_steps(row["input_ids"], vocab):
        if (state, action) in observed:
            continue
        if position in scored:
            steps.append((scored[position], counts.copy(), state))
        observed.add((state, action))
        counts[state, next_state] += 1
    return steps


def unseen_posteriors(rows, vocab: FSMVocab) -> list[np.ndarray]:
    """Per row, [scored steps, states]: the exact posterior over the next state where the
    step's (s, a) is unseen, a NaN row where it was seen (the answer is then known). Rows of
    one dataset share their FSM sizes; rows of several sizes are batched size by size."""
    width = max(_shape(row)[0] for row in rows)
    result = [np.full((len(query_steps(row)[0]), width), np.nan) for row in rows]
    pending: dict[tuple, list] = {}
    for index, row in enumerate(rows):
        for step, counts, state in _unseen_steps(row, vocab):
            pending.setdefault(_shape(row), []).append((index, step, counts, state))
    for (num_states, num_actions, absorbing), steps in pending.items():
        posteriors = next_state_posteriors(
            np.stack([s[2] for s in steps]), [s[3] for s in steps], num_actions, absorbing
        )
        for (index, step, _, _), posterior in zip(steps, posteriors, strict=True):
            result[index][step] = 0.0
            result[index][step, :num_states] = posterior
    return result


def dataset_fields(record: dict | None, settings) -> tuple[str, dict]:
    """Builder config name and field overrides of the data to probe on: the settings'
    `dataset` (its own fields), else the run's own data from its results.json."""
    if settings.dataset is not None:
        return settings.dataset, {}
    from latent_lab.tasks.fsm_icl.arguments import recorded_data_arguments

    data_args = recorded_data_arguments((record or {}).get("config") or {})
    return data_args.dataset, data_args.builder_fields()


def probe_set(rows: list[dict], targets, vocab: FSMVocab) -> ProbeSet:
    """Positions and targets of the rows (the posterior only when asked: it costs most)."""
    steps = [query_steps(row) for row in rows]
    values: dict[str, dict[str, list]] = {
        name: {name: [step[1][name] for step in steps]} for name in HARD_TARGETS if name in targets
    }
    if "posterior" in targets:
        values["posterior"] = {"posterior": unseen_posteriors(rows, vocab)}
    return ProbeSet(
        sequences=[np.asarray(row["input_ids"]) for row in rows],
        positions=[step[0] for step in steps],
        targets=values,
        pad_token_id=vocab.pad,
        vocab_size=vocab.size,
    )


def probe_sets(record: dict | None, settings, splits: tuple[str, str], targets) -> tuple:
    """(train ProbeSet, test ProbeSet, what they are): the first rows of each split."""
    from latent_lab.tasks.builders import build_dataset

    name, builder_fields = dataset_fields(record, settings)
    dataset = build_dataset("fsm_icl", name, **builder_fields)
    first = dataset[splits[0]][0]
    vocab = FSMVocab(first["s_max"], first["a_max"])
    sets = []
    for split, limit in zip(splits, (settings.max_train_rows, settings.max_test_rows), strict=True):
        rows = dataset[split]
        if not len(rows):
            raise UserError(f"{split}: the probe data's {split} split is empty; choose another")
        sets.append(probe_set(list(rows.select(range(min(limit, len(rows))))), targets, vocab))
    about = {"dataset": name, "builder_fields": builder_fields, "splits": list(splits)}
    return sets[0], sets[1], about
