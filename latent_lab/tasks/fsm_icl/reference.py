"""Exact per-position references for FSM episodes (generator.py): was a scored step's
(state, action) seen earlier in the sequence, and the Bayes-optimal posterior over its next
state (docs/spec/fsm_icl.md).

Walk starts, actions and lengths are drawn independently of the FSM, so the sequence so far
tells the predictor exactly one thing: the set O of transitions observed before the position.
The posterior of an unseen slot (s, a) is P(T[s, a] = x | O) = P(T agrees with O + {(s,a,x)})
/ P(T agrees with O). It is *not* uniform: the spanning tree forces every state to be reachable
from 0 (e.g. with S = 2, if 0 -a0-> 0 was seen, then 0 -a1-> 1 for sure).

Computing P(T agrees with O'). Fix a tree tau. A slot off the tree is uniform, so it agrees
with an observation with probability 1/S; a tree slot agrees with probability 0 or 1. Hence
P(agree | tau) = S^-|O'| * prod over tree edges of r(e), with r = S for an observed slot whose
observed next state is the child, 0 for an observed slot with another next state, 1 for an
unobserved slot. Every attachment sequence of the generator (order of the states, then one of
the k(A-1)+1 free slots at step k) has the same probability, so P(tau) is proportional to the
number of orders consistent with tau: (S-1)! / prod over non-root v of |subtree(v)|. The sum
over trees is a dynamic programme over vertex subsets (`tree_weight_sums`): F(v, U) sums the
subtrees rooted at v that span U; a parent's children use distinct actions, each either an
observed action leading to that child (weight S) or one of its f unobserved actions, which j
children can use in f (f-1) ... (f-j+1) ways. No approximation is made anywhere; the cost is
about S^2 3^(S-1) operations per evaluation, so exact references are limited to
MAX_EXACT_STATES states. In the absorbing variant the absorbing state b is summed over: b is a
leaf attached after every other state (it does not count in subtree sizes), its own slots are
self-loops (probability 1 each), and only the other states' unobserved slots are uniform.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from latent_lab.tasks.fsm_icl.generator import IGNORE_INDEX, FSMVocab

MAX_EXACT_STATES = 10
# Elements of one chunk's DP table (float64, 128 MiB): larger chunks spend less time in Python.
_CHUNK_ELEMENTS = 1 << 24


@dataclass
class PositionReference:
    """Label-aligned arrays for one sequence; zero at unscored positions."""

    seen: np.ndarray  # bool: the step's (state, action) occurred earlier in the sequence
    correct_prob: np.ndarray  # max_x posterior(x): the Bayes-optimal predictor's accuracy
    true_prob: np.ndarray  # posterior of the true next state (Bayes loss = -log of it)


def transition_steps(input_ids, vocab: FSMVocab) -> list[tuple[int, int, int, int]]:
    """(position, state, action, next_state) for every transition `s a s'` in the sequence;
    `position` is where s' sits."""
    tokens = [int(t) for t in input_ids]
    return [
        (t, tokens[t - 2], tokens[t - 1] - vocab.s_max, tokens[t])
        for t in range(2, len(tokens))
        if vocab.is_action(tokens[t - 1]) and 0 <= tokens[t] < vocab.s_max
    ]


@functools.cache
def _subset_plan(num_states: int):
    """Non-root vertex subsets (bit 0 clear) by size, their members, and for each subset W the
    subsets U of W holding W's lowest member (one block of a set partition, counted once)."""
    masks = sorted(range(0, 1 << num_states, 2), key=lambda m: (bin(m).count("1"), m))
    members = {m: [v for v in range(num_states) if m >> v & 1] for m in masks}
    blocks = {}
    for whole in masks[1:]:
        low = whole & -whole
        blocks[whole] = [u for u in masks if u & low and u & whole == u]
    return masks, members, blocks


def _falling_factorials(free_actions: np.ndarray, count: int) -> np.ndarray:
    """[S, count, B]: f (f-1) ... (f-j+1) for j < count (0 once j > f)."""
    free = free_actions.T.astype(np.float64)
    result = np.ones((free.shape[0], count, free.shape[1]))
    for j in range(1, count):
        result[:, j] = result[:, j - 1] * (free - (j - 1))
    return result


def tree_weight_sums(free_actions, edge_weight, absorbing_state) -> np.ndarray:
    """[B]: sum over the generator's spanning trees of prod_v 1/|subtree(v)| (orders) times
    each parent's action-assignment weight. free_actions [B, S]: unobserved actions per state;
    edge_weight [B, S, S]: S times the number of observed actions p -> c; absorbing_state [B]:
    the absorbing state, -1 for none. Proportional to P(tau-weighted agreement), see module."""
    free_actions = np.asarray(free_actions)
    batch, num_states = free_actions.shape
    per_instance = (1 << (num_states - 1)) * num_states * num_states
    step = max(1, _CHUNK_ELEMENTS // per_instance)
    return np.concatenate(
        [
            _tree_weight_chunk(
                free_actions[i : i + step], edge_weight[i : i + step], absorbing_state[i : i + step]
            )
            for i in range(0, batch, step)
        ]
    )


def _tree_weight_chunk(free_actions, edge_weight, absorbing_state) -> np.ndarray:
    batch, num_states = free_actions.shape
    masks, members, blocks = _subset_plan(num_states)
    falling = _falling_factorials(free_actions, num_states)
    weight = np.asarray(edge_weight, dtype=np.float64).transpose(1, 2, 0)  # [p, c, B]
    is_absorbing = np.asarray(absorbing_state)[None, :] == np.arange(num_states)[:, None]
    # forests[W >> 1][p, j]: forests hanging from p spanning W, j roots on unobserved actions.
    forests = np.zeros((len(masks), num_states, num_states, batch))
    forests[0, :, 0] = 1.0
    scratch = np.empty((num_states, num_states, batch))
    free_total = np.zeros((len(masks), batch))  # sum_c F(c, U)
    observed_total = np.zeros((len(masks), num_states, batch))  # sum_c F(c, U) weight[p, c]
    for size in range(1, num_states):
        sized = [m for m in masks if len(members[m]) == size]
        for subset in sized:
            subtrees = _subtree_sums(subset, members[subset], forests, falling, is_absorbing)
            free_total[subset >> 1] = subtrees.sum(0)
            observed_total[subset >> 1] = np.einsum("cb,pcb->pb", subtrees, weight)
        for whole in sized:
            total = forests[whole >> 1]
            for block in blocks[whole]:
                # A forest spanning `rest` has at most |rest| roots: skip the zero tail of j.
                roots = len(members[whole ^ block]) + 1
                rest = forests[(whole ^ block) >> 1, :, :roots]
                np.multiply(observed_total[block >> 1][:, None, :], rest, out=scratch[:, :roots])
                total[:, :roots] += scratch[:, :roots]
                np.multiply(free_total[block >> 1], rest, out=scratch[:, :roots])
                total[:, 1 : roots + 1] += scratch[:, :roots]
    root_size = num_states - (np.asarray(absorbing_state) >= 0)
    everything = ((1 << num_states) - 1) ^ 1
    return np.einsum("jb,jb->b", falling[0], forests[everything >> 1][0]) / root_size


def _subtree_sums(subset, vertices, forests, falling, is_absorbing) -> np.ndarray:
    """[S, B]: F(v, subset) for v in subset, zero elsewhere."""
    subtrees = np.zeros((falling.shape[0], falling.shape[2]))
    # The absorbing state comes last in the order, so it does not count in subtree sizes.
    counted = len(vertices) - is_absorbing[vertices].sum(0)
    inverse_size = 1.0 / np.maximum(counted, 1)
    for v in vertices:
        below = forests[(subset ^ (1 << v)) >> 1][v]
        value = inverse_size * np.einsum("jb,jb->b", falling[v], below)
        # The absorbing state is a leaf: a subtree of its own and nothing more.
        subtrees[v] = np.where(is_absorbing[v], float(len(vertices) == 1), value)
    return subtrees


def next_state_posteriors(observed_counts, states, num_actions: int, absorbing: bool):
    """[Q, S] exact posteriors of unseen slots. observed_counts [Q, S, S]: number of observed
    slots p -> c (each slot once); states [Q]: the slot's state (its action is unobserved, and
    which unobserved action it is does not matter)."""
    observed_counts = np.asarray(observed_counts, dtype=np.int64)
    states = np.asarray(states, dtype=np.int64)
    num_queries, num_states = observed_counts.shape[:2]
    if num_states > MAX_EXACT_STATES:
        raise ValueError(f"exact posteriors are computed for up to {MAX_EXACT_STATES} states")
    candidates = list(range(1, num_states)) if absorbing else [-1]
    step = max(1, (1 << 16) // (num_states * len(candidates)))
    chunks = [
        _posterior_chunk(
            observed_counts[i : i + step], states[i : i + step], num_actions, candidates
        )
        for i in range(0, num_queries, step)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, num_states))


def _posterior_chunk(observed_counts, states, num_actions, candidates) -> np.ndarray:
    num_queries, num_states = observed_counts.shape[:2]
    shape = (num_queries, len(candidates), num_states, num_states, num_states)
    # counts[q, b, x]: the observations plus the hypothesis (s_q, a) -> x, absorbing state b.
    counts = np.broadcast_to(observed_counts[:, None, None], shape).copy()
    query_index = np.arange(num_queries)
    for x in range(num_states):
        counts[query_index, :, x, states, x] += 1
    absorbing_state = np.broadcast_to(np.asarray(candidates)[None, :, None], shape[:3])
    weights = tree_weight_sums(
        (num_actions - counts.sum(-1)).reshape(-1, num_states),
        (num_states * counts).reshape(-1, num_states, num_states),
        absorbing_state.reshape(-1),
    ).reshape(shape[:3])
    for index, b in enumerate(candidates):
        if b < 0:
            continue
        # The absorbing state's slots are self-loops with probability 1, not 1/S each.
        from_b = counts[:, index, :, b, :]
        self_loops = from_b[..., b]
        weights[:, index] *= (from_b.sum(-1) == self_loops) * float(num_states) ** self_loops
    joint = weights.sum(1)
    with np.errstate(invalid="ignore"):  # NaN rows: observations the generator cannot produce
        return joint / joint.sum(-1, keepdims=True)


def episode_references(
    rows, num_states: int, num_actions: int, absorbing: bool, vocab: FSMVocab
) -> list[PositionReference]:
    """Seen flags and exact posteriors at the scored positions of (input_ids, labels) rows, all
    rows' unseen positions computed in one batch."""
    references, pending = [], []  # pending: (row, position, counts snapshot, state, next state)
    for row, (input_ids, labels) in enumerate(rows):
        length = len(input_ids)
        reference = PositionReference(
            np.zeros(length, dtype=bool), np.zeros(length), np.zeros(length)
        )
        references.append(reference)
        scored = {t for t, label in enumerate(labels) if label != IGNORE_INDEX}
        observed: set[tuple[int, int]] = set()
        counts = np.zeros((num_states, num_states), dtype=np.int64)
        for position, state, action, next_state in transition_steps(input_ids, vocab):
            if position in scored:
                scored.discard(position)
                if (state, action) in observed:
                    reference.seen[position] = True
                    reference.correct_prob[position] = reference.true_prob[position] = 1.0
                else:
                    pending.append((row, position, counts.copy(), state, next_state))
            if (state, action) not in observed:
                observed.add((state, action))
                counts[state, next_state] += 1
        if scored:
            raise ValueError(f"row {row}: labels at {sorted(scored)} are not next-state positions")
    if pending:
        posteriors = next_state_posteriors(
            np.stack([p[2] for p in pending]), [p[3] for p in pending], num_actions, absorbing
        )
        for (row, position, _, _, next_state), posterior in zip(pending, posteriors, strict=True):
            references[row].correct_prob[position] = posterior.max()
            references[row].true_prob[position] = posterior[next_state]
    return references
