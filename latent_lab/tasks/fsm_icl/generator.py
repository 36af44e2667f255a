"""Random deterministic finite state machines (FSMs) and in-context-learning episodes of walks.

An FSM has S states and A actions; `transitions[s, a]` is the next state. The generator:

1. Spanning tree from state 0: the other states, in a uniformly random order, each attach to a
   uniformly random *free* (state, action) slot of the states already attached; the slot's
   next state is the new state. Every state is therefore reachable from state 0.
2. Absorbing variant: one state b, uniform over 1..S-1, attaches last (so it is a leaf of the
   tree) and sends every action to itself.
3. Every remaining slot gets a next state uniform over all S states (self-loops allowed).

An episode is k demonstrations (random walks, uniform action each step, from k distinct start
states), each `s a s a ... s <eos>`, then the query `<query> s0 a0 s1 ... s_n <eos>`. Labels
(HF convention: aligned with input_ids, the model shifts) are the query's next states and -100
elsewhere; optionally the demonstrations' next states are scored too.

Tokens: states 0..s_max-1, actions s_max..s_max+a_max-1, then <eos>, <query>, <pad>.
Pure numpy: no Hugging Face imports. The exact references live in reference.py; the
semantics are in docs/spec/fsm_icl.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100
SPLIT_NAMES = ("train", "validation", "test")


@dataclass(frozen=True)
class FSMVocab:
    """One vocabulary for every FSM size up to (s_max, a_max), so curricula keep the model."""

    s_max: int = 8
    a_max: int = 10

    def state_token(self, state: int) -> int:
        return state

    def action_token(self, action: int) -> int:
        return self.s_max + action

    @property
    def eos(self) -> int:
        return self.s_max + self.a_max

    @property
    def query(self) -> int:
        return self.eos + 1

    @property
    def pad(self) -> int:
        return self.eos + 2

    @property
    def size(self) -> int:
        return self.eos + 3

    def is_action(self, token: int) -> bool:
        return self.s_max <= token < self.s_max + self.a_max


@dataclass(frozen=True)
class FSM:
    transitions: np.ndarray  # [S, A] int: next state of (state, action)
    absorbing_state: int = -1  # -1: no absorbing state

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transitions.shape[1]


@dataclass(frozen=True)
class EpisodeSpec:
    """How episodes are written: walk lengths are uniform integers in the inclusive ranges."""

    num_demos: int
    demo_lengths: tuple[int, int]
    query_lengths: tuple[int, int]
    score_demonstrations: bool = False


def sample_fsm(rng: np.random.Generator, num_states: int, num_actions: int, absorbing=False) -> FSM:
    """One FSM from the generator described in the module docstring."""
    if absorbing and num_states < 2:
        raise ValueError("an absorbing state other than 0 needs at least 2 states")
    table = np.full((num_states, num_actions), -1, dtype=np.int64)
    absorbing_state = -1
    order = [int(v) for v in 1 + rng.permutation(num_states - 1)]
    if absorbing:
        absorbing_state = int(1 + rng.integers(num_states - 1))
        order = [v for v in order if v != absorbing_state] + [absorbing_state]
    attached = [0]
    for state in order:
        free = [(p, a) for p in attached for a in range(num_actions) if table[p, a] < 0]
        parent, action = free[rng.integers(len(free))]
        table[parent, action] = state
        attached.append(state)
    if absorbing:
        table[absorbing_state, :] = absorbing_state
    remaining = table < 0
    table[remaining] = rng.integers(num_states, size=int(remaining.sum()))
    return FSM(table, absorbing_state)


def reachable_from_zero(transitions: np.ndarray) -> set[int]:
    reached, frontier = {0}, [0]
    while frontier:
        state = frontier.pop()
        for next_state in transitions[state]:
            if int(next_state) not in reached:
                reached.add(int(next_state))
                frontier.append(int(next_state))
    return reached


def default_walk_length(num_actions: int) -> float:
    """About A ln A steps: roughly what a walk needs to try most actions of a state."""
    return num_actions * math.log(num_actions) if num_actions > 1 else 1.0


def walk_length_range(base: float, jitter: float) -> tuple[int, int]:
    """Inclusive integer range base * (1 -+ jitter), at least 1 step."""
    low = max(1, round(base * (1 - jitter)))
    return low, max(low, round(base * (1 + jitter)))


def random_walk(rng, transitions: np.ndarray, start: int, num_steps: int):
    """(states, actions): num_steps uniform actions from `start`; len(states) = num_steps + 1."""
    actions = rng.integers(transitions.shape[1], size=num_steps)
    states = [int(start)]
    for action in actions:
        states.append(int(transitions[states[-1], action]))
    return states, [int(a) for a in actions]


def encode_walk(states, actions, vocab: FSMVocab) -> list[int]:
    tokens = [vocab.state_token(states[0])]
    for action, state in zip(actions, states[1:], strict=True):
        tokens += [vocab.action_token(action), vocab.state_token(state)]
    return tokens


def sample_episode(rng, fsm: FSM, spec: EpisodeSpec, vocab: FSMVocab):
    """(input_ids, labels) of one episode: demonstrations, then the scored query."""
    input_ids: list[int] = []
    labels: list[int] = []
    starts = rng.choice(fsm.num_states, size=spec.num_demos, replace=False)
    walks = [(int(start), spec.demo_lengths, spec.score_demonstrations) for start in starts]
    walks.append((int(rng.integers(fsm.num_states)), spec.query_lengths, True))
    for index, (start, (low, high), scored) in enumerate(walks):
        if index == len(walks) - 1:
            input_ids.append(vocab.query)
            labels.append(IGNORE_INDEX)
        states, actions = random_walk(rng, fsm.transitions, start, int(rng.integers(low, high + 1)))
        tokens = encode_walk(states, actions, vocab)
        # Scored: every next state, i.e. every state token after the walk's start (even j >= 2).
        labels += [
            token if scored and j >= 2 and j % 2 == 0 else IGNORE_INDEX
            for j, token in enumerate(tokens)
        ]
        input_ids += tokens
        input_ids.append(vocab.eos)
        labels.append(IGNORE_INDEX)
    return input_ids, labels


def _split_fsms(
    seed: int,
    split_index: int,
    count: int,
    num_states: int,
    num_actions: int,
    absorbing: bool,
    excluded: set[bytes] | None = None,
) -> list[FSM]:
    """`count` FSMs from the split's own stream, skipping tables in `excluded`."""
    rng = np.random.default_rng([seed, split_index, 0])
    fsms: list[FSM] = []
    attempts, max_attempts = 0, 100 * count + 1000
    while len(fsms) < count:
        attempts += 1
        if attempts > max_attempts:
            raise ValueError(
                f"could not draw {count} training FSMs whose tables differ from the held-out "
                f"splits' after {max_attempts} draws; lower num_validation/num_test or use "
                "more states/actions"
            )
        fsm = sample_fsm(rng, num_states, num_actions, absorbing)
        if excluded is None or fsm.transitions.tobytes() not in excluded:
            fsms.append(fsm)
    return fsms


def split_fsms(
    split: str,
    counts: dict[str, int],
    seed: int,
    num_states: int,
    num_actions: int,
    absorbing: bool,
) -> list[FSM]:
    """The FSMs of one split. Held-out splits (validation, test) are i.i.d. from the generator;
    train redraws any table that occurs in a held-out split, so train and held-out FSMs are
    distinct (train then follows the generator conditioned on not being held out). Each split
    has its own seeded stream, so splits can be generated in any order."""
    shape = (num_states, num_actions, absorbing)
    if split != "train":
        return _split_fsms(seed, SPLIT_NAMES.index(split), counts[split], *shape)
    held_out = {
        fsm.transitions.tobytes()
        for name in SPLIT_NAMES[1:]
        for fsm in _split_fsms(seed, SPLIT_NAMES.index(name), counts[name], *shape)
    }
    return _split_fsms(seed, 0, counts["train"], *shape, excluded=held_out)


def split_episodes(split: str, fsms: list[FSM], seed: int, spec: EpisodeSpec, vocab: FSMVocab):
    """One episode per FSM, from the split's own seeded stream (independent of the FSM draws)."""
    rng = np.random.default_rng([seed, SPLIT_NAMES.index(split), 1])
    return [sample_episode(rng, fsm, spec, vocab) for fsm in fsms]
