"""The FSM data fields: what a builder config holds and a recipe may set (one definition for
both: data_builders/fsm_icl.py and arguments.py derive from it), checked without reading data.

numpy stays out of this module's imports (the generator is imported where it is used), so a
recipe's `--help` and argument errors answer at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from latent_lab.errors import UserError
from latent_lab.tasks.sizes import check_at_most, check_product

# Size limits (checked before any FSM is generated): about 4,000 episodes a second on one
# core, so a split of MAX_EPISODES takes under an hour; MAX_SPLIT_STEPS bounds its tokens.
MAX_EPISODES = 10_000_000  # per split
MAX_WALK_LENGTH = 10_000  # steps of one demonstration or query walk
MAX_SPLIT_STEPS = 1_000_000_000  # episodes x (num_demos x demo_length + query_length)
MAX_VOCAB_SIDE = 1_000  # s_max and a_max: state and action tokens


def _field(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{name}: must be >= {minimum}, got {value}")


@dataclass
class FSMDataConfig:
    """Walk lengths are steps (actions); None means A ln A. Each walk's length is uniform over
    the integers within length_jitter (a fraction) of it. data_seed fixes the FSMs and the
    walks; s_max and a_max fix the vocabulary (one for every FSM size, so curricula keep the
    model)."""

    num_states: int = _field(5, "states S (at most s_max)")
    num_actions: int = _field(5, "actions A (at most a_max)")
    absorbing: bool = _field(False, "one state (not 0) sends every action to itself")
    num_demos: int = _field(3, "demonstration walks per episode, from distinct start states")
    demo_length: int | None = _field(None, "demonstration steps (None: A ln A)")
    query_length: int | None = _field(None, "query steps (None: A ln A)")
    length_jitter: float = _field(0.2, "walk lengths vary uniformly within this fraction")
    score_demonstrations: bool = _field(False, "score the demonstrations' next states too")
    num_train: int = _field(6000, "training FSMs (distinct from the held-out ones)")
    num_validation: int = _field(2000, "validation FSMs")
    num_test: int = _field(2000, "test FSMs")
    data_seed: int = _field(0, "fixes the FSMs and the walks (--seed: model and data order)")
    s_max: int = _field(8, "state tokens in the vocabulary")
    a_max: int = _field(10, "action tokens in the vocabulary")

    def validate(self) -> None:
        from latent_lab.tasks.fsm_icl.reference import MAX_EXACT_STATES

        for name in ("s_max", "a_max", "num_train", "num_validation", "num_test"):
            _check_int(name, getattr(self, name), 1)
        for name in ("s_max", "a_max"):
            check_at_most(name, getattr(self, name), MAX_VOCAB_SIDE, "tokens")
        for name in ("num_train", "num_validation", "num_test"):
            check_at_most(name, getattr(self, name), MAX_EPISODES, "FSM episodes per split")
        _check_int("data_seed", self.data_seed, 0)
        _check_int("num_states", self.num_states, 1)
        _check_int("num_actions", self.num_actions, 1)
        if self.num_states > self.s_max:
            raise UserError(
                f"num_states: {self.num_states} is more than s_max = {self.s_max}; lower "
                "num_states or raise s_max (which changes the vocabulary)"
            )
        if self.num_actions > self.a_max:
            raise UserError(
                f"num_actions: {self.num_actions} is more than a_max = {self.a_max}; lower "
                "num_actions or raise a_max (which changes the vocabulary)"
            )
        if self.num_states > MAX_EXACT_STATES:
            raise UserError(
                f"num_states: exact Bayes references are computed for up to {MAX_EXACT_STATES} "
                f"states, got {self.num_states}"
            )
        self._validate_episode()

    def _validate_episode(self) -> None:
        for name in ("absorbing", "score_demonstrations"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        if self.absorbing and self.num_states < 2:
            raise UserError("absorbing: an absorbing state other than 0 needs num_states >= 2")
        _check_int("num_demos", self.num_demos, 1)
        if self.num_demos > self.num_states:
            raise UserError(
                f"num_demos: {self.num_demos} demonstrations need distinct start states but "
                f"there are only {self.num_states} states; lower num_demos"
            )
        for name in ("demo_length", "query_length"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
                check_at_most(name, getattr(self, name), MAX_WALK_LENGTH, "steps")
        jitter = self.length_jitter
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
            raise UserError(f"length_jitter: expected a fraction in [0, 1), got {jitter!r}")
        steps = self.num_demos * self._walk("demo_length") + self._walk("query_length")
        for name in ("num_train", "num_validation", "num_test"):
            check_product((name, "walk steps per episode"), (getattr(self, name), steps),
                          MAX_SPLIT_STEPS, "walk steps")  # fmt: skip

    def _walk(self, name: str) -> int:
        """A walk's nominal length: the field, else A ln A (generator.default_walk_length)."""
        value = getattr(self, name)
        if value is not None:
            return value
        actions = self.num_actions
        return max(1, round(actions * math.log(actions))) if actions > 1 else 1

    @property
    def vocab(self):
        """The FSMVocab of (s_max, a_max): states, actions, <eos>, <query>, <pad>."""
        from latent_lab.tasks.fsm_icl.generator import FSMVocab

        return FSMVocab(self.s_max, self.a_max)

    def episode_spec(self):
        """The EpisodeSpec: demonstrations and query walk-length ranges, what is scored."""
        from latent_lab.tasks.fsm_icl.generator import (
            EpisodeSpec,
            default_walk_length,
            walk_length_range,
        )

        default = default_walk_length(self.num_actions)
        demo = self.demo_length if self.demo_length is not None else default
        query = self.query_length if self.query_length is not None else default
        return EpisodeSpec(
            num_demos=self.num_demos,
            demo_lengths=walk_length_range(demo, self.length_jitter),
            query_lengths=walk_length_range(query, self.length_jitter),
            score_demonstrations=self.score_demonstrations,
        )
