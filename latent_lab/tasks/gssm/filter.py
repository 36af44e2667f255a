"""Exact Bayes-optimal next-token prediction for a GSSM (docs/spec/gssm.md, "Exact reference").

An input-output HMM forward filter over the joint latent state. The belief is a tensor with one
axis per latent (graph.latent_order, flattened C-order); one step contracts the per-node
factors in topological order, replacing latent i's axis from time t to t+1 with
    b'[.., z_i', ..] = sum_{z_i} b[.., z_i, ..] K_i[z_i, parents(t+1) or X(t), z_i'],
which is exact because no later factor reads latent i's old state. Cost per step and sequence:
S * (sum of latent dims + dim X) for S joint states; no dense S x S transition is ever formed.

The loop is numba, float64, over chunks of up to MAX_LANES sequences laid out lane-innermost
(every operation is a contiguous, vectorised loop over the chunk's lanes, and one index
computation serves them all), with `prange` over chunks; lanes never mix, so a sequence's
numbers do not depend on the rest of the batch. Belief entries below BELIEF_FLOOR (beliefs
sum to 1 after every factor) are set to 0: with kernel entries >= 1e-150 too (gssm.py), every
product stays out of subnormal numbers (a 100x slowdown with alpha ~ 1e-3), and a probability
changes only on events of probability below ~1e-140.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.gssm.graph import Graph

BELIEF_FLOOR = 1e-150
MAX_LANES = 64  # sequences filtered together by one thread
FASTMATH = {"contract", "arcp"}  # FMA and x * (1 / n); not nnan/ninf: failures stay visible
MAX_JOINT_STATES = 1 << 20


@dataclass
class FilterResult:
    """Per position t = 1..T: nll[n, t] = -ln p(X(t) | X(1..t-1)) in nats, and the argmax
    of that predictive distribution."""

    nll: np.ndarray  # (num_sequences, seq_len) float64
    predictions: np.ndarray  # (num_sequences, seq_len) int64
    # The predictive distribution's largest probability (the optimum's expected accuracy at
    # that position) and its entropy in nats; same shape.
    top_probability: np.ndarray | None = None
    entropy: np.ndarray | None = None

    @property
    def bayes_nll(self) -> np.ndarray:
        """Per sequence, summed over positions (nats)."""
        return self.nll.sum(axis=1)

    @property
    def bayes_loss(self) -> float:
        return float(self.nll.mean())

    def bayes_accuracy(self, tokens: np.ndarray) -> float:
        return float((self.predictions == tokens).mean())


@numba.njit(cache=True, fastmath=FASTMATH)
def _gather_kernels(kernels, slice_index, slice_offset, x_step, previous, gathered):
    """Each latent's kernel at every lane's X(t): gathered[entry, lane], where entry runs
    over (old state, latent-parent states, new state) of that latent."""
    lanes = previous.shape[0]
    for i in range(x_step.shape[0]):
        for entry in range(slice_offset[i], slice_offset[i + 1]):
            base = slice_index[entry]
            for lane in range(lanes):
                gathered[entry, lane] = kernels[base + previous[lane] * x_step[i]]


@numba.njit(cache=True, fastmath=FASTMATH)
def _transition(belief, scratch, gathered, first_entry, dim, stride, rows_per_old, part, floor):
    """scratch <- belief with one latent's axis moved from t to t+1:
        scratch[.., new, ..] = sum_old belief[.., old, ..] * kernel[old, parents, new],
    two old states per pass over the lanes; the last pass zeroes masses below floor.
    part[j]: the kernel-row offset from joint state j's latent parents."""
    num_states, lanes = belief.shape
    for high in range(0, num_states, dim * stride):
        for new in range(dim):
            for low in range(stride):
                target = high + new * stride + low
                scratch[target, :] = 0.0
                for old in range(0, dim, 2):
                    threshold = floor if old + 2 >= dim else -1.0  # -1: keep everything
                    first = high + old * stride + low
                    second = first + stride if old + 1 < dim else first
                    weight = 1.0 if old + 1 < dim else 0.0  # odd dim: no second old state
                    row = first_entry + (old * rows_per_old + part[first]) * dim + new
                    row2 = row if old + 1 == dim else (
                        first_entry + ((old + 1) * rows_per_old + part[second]) * dim + new
                    )  # fmt: skip
                    for lane in range(lanes):
                        value = scratch[target, lane] + belief[first, lane] * gathered[row, lane]
                        value += weight * belief[second, lane] * gathered[row2, lane]
                        scratch[target, lane] = value if value >= threshold else 0.0


@numba.njit(cache=True, fastmath=FASTMATH)
def _predict(emission_t, belief, predictive):
    """predictive[x, lane] = sum_j emission_t[x, j] * belief[j, lane], two tokens and two
    states per pass (each belief load feeds four products). Not BLAS: OpenBLAS threads inside
    numba's parallel region oversubscribe the cores and can hang."""
    vocab_size, num_states = emission_t.shape
    lanes = belief.shape[1]
    pairs = num_states // 2 * 2
    for x in range(0, vocab_size, 2):
        other = min(x + 1, vocab_size - 1)  # odd vocab: the last row pairs with itself
        predictive[x, :] = 0.0
        predictive[other, :] = 0.0
        for j in range(0, pairs, 2):
            a0, a1 = emission_t[x, j], emission_t[x, j + 1]
            c0, c1 = emission_t[other, j], emission_t[other, j + 1]
            if other == x:
                c0, c1 = 0.0, 0.0
            for lane in range(lanes):
                b0, b1 = belief[j, lane], belief[j + 1, lane]
                predictive[x, lane] += a0 * b0 + a1 * b1
                predictive[other, lane] += c0 * b0 + c1 * b1
        if pairs < num_states:
            for lane in range(lanes):
                predictive[x, lane] += emission_t[x, pairs] * belief[pairs, lane]
                if other != x:
                    predictive[other, lane] += emission_t[other, pairs] * belief[pairs, lane]


@numba.njit(cache=True, fastmath=FASTMATH)
def _condition(belief, emission, tokens, floor):
    """belief <- belief * p(X(t+1) = token | state), renormalised per lane, floored."""
    num_states, lanes = belief.shape
    norm = np.zeros(lanes)
    for j in range(num_states):
        for lane in range(lanes):
            belief[j, lane] *= emission[j, tokens[lane]]
            norm[lane] += belief[j, lane]
    for lane in range(lanes):
        norm[lane] = 1.0 / norm[lane]
    for j in range(num_states):
        for lane in range(lanes):
            value = belief[j, lane] * norm[lane]
            belief[j, lane] = value if value >= floor else 0.0


@numba.njit(cache=True, fastmath=FASTMATH)
def _score(predictive, tokens, nll, best, failed, chosen, top_probability, entropy):
    """Per lane: nll = -ln p(token), best = the argmax, its probability and the predictive
    entropy, chosen = the token to condition on (a padding lane, token -1, follows its most
    likely token)."""
    vocab_size, lanes = predictive.shape
    for lane in range(lanes):
        total = 0.0
        top = 0
        for x in range(vocab_size):
            total += predictive[x, lane]
            if predictive[x, lane] > predictive[top, lane]:
                top = x
        information = 0.0
        for x in range(vocab_size):
            p = predictive[x, lane] / total
            if p > 0.0:
                information -= p * np.log(p)
        entropy[lane] = information
        top_probability[lane] = predictive[top, lane] / total
        token = tokens[lane] if tokens[lane] >= 0 else top
        failed[lane] = not predictive[token, lane] > 0.0
        if failed[lane]:
            token = top  # keep the lane finite; the caller raises
        nll[lane] = np.log(total) - np.log(predictive[token, lane])
        best[lane] = top
        chosen[lane] = token


@numba.njit(parallel=True, cache=True, fastmath=FASTMATH)
def _filter(tokens, latent_dim, joint_stride, rows_per_old, slice_offset, slice_index, x_step,
            part, kernels, emission, emission_t, floor, nll, predictions, failed, top_probability,
            entropy):  # fmt: skip
    """tokens, nll, predictions, failed, top_probability, entropy: (chunks, lanes, T). One
    parallel region for the whole run: launching one per time step costs milliseconds on a
    busy machine."""
    chunks, lanes, seq_len = tokens.shape
    num_states, vocab_size = emission.shape
    for chunk in numba.prange(chunks):
        belief = np.zeros((num_states, lanes))
        belief[0, :] = 1.0  # every node starts in state 0
        scratch = np.empty((num_states, lanes))
        gathered = np.empty((max(1, slice_index.shape[0]), lanes))
        predictive = np.empty((vocab_size, lanes))
        previous = np.zeros(lanes, np.int64)  # X(0) = 0
        column = np.empty(lanes, np.int64)
        scores = np.empty(lanes)
        best = np.empty(lanes, np.int64)
        broken = np.zeros(lanes, np.bool_)
        top = np.empty(lanes)
        information = np.empty(lanes)
        for t in range(seq_len):
            _gather_kernels(kernels, slice_index, slice_offset, x_step, previous, gathered)
            for i in range(latent_dim.shape[0]):  # topological order
                _transition(belief, scratch, gathered, slice_offset[i], latent_dim[i],
                            joint_stride[i], rows_per_old[i], part[i], floor)  # fmt: skip
                belief, scratch = scratch, belief
            _predict(emission_t, belief, predictive)
            column[:] = tokens[chunk, :, t]
            _score(predictive, column, scores, best, broken, previous, top, information)
            _condition(belief, emission, previous, floor)
            nll[chunk, :, t] = scores
            predictions[chunk, :, t] = best
            failed[chunk, :, t] = broken
            top_probability[chunk, :, t] = top
            entropy[chunk, :, t] = information


def check_tractable(graph: Graph, where: str = "graph") -> None:
    """The exact filter can track the graph's joint latent state (a one-line UserError)."""
    if graph.joint_states > MAX_JOINT_STATES:
        raise UserError(f"{where}: the exact reference is intractable: {graph.joint_states:,} "
                        f"joint latent states exceed the exact filter's {MAX_JOINT_STATES:,}; "
                        "use fewer or smaller latents")  # fmt: skip


def bayes_filter(graph: Graph, kernels: dict, tokens: np.ndarray) -> FilterResult:
    """Exact -ln p(X(t) | X(1..t-1)) and argmax predictions for sequences of known kernels."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be (num_sequences, seq_len), got shape {tokens.shape}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= graph.vocab_size):
        raise ValueError(f"tokens must lie in 0..{graph.vocab_size - 1}")
    check_tractable(graph)
    tables = filter_tables(graph, kernels)
    emission_t = np.ascontiguousarray(tables[-1].T)
    num_sequences, seq_len = tokens.shape
    if num_sequences == 0:
        empty = np.zeros(tokens.shape)
        return FilterResult(empty, np.zeros_like(tokens), empty.copy(), empty.copy())
    # Lanes depend on the batch size only (not the thread count): same numbers everywhere.
    lanes = min(MAX_LANES, -(-num_sequences // 8) * 8)
    chunks = -(-num_sequences // lanes)
    padded = np.full((chunks * lanes, seq_len), -1, np.int64)  # -1: a padding lane
    padded[:num_sequences] = tokens
    shape = (chunks, lanes, seq_len)
    nll, failed = np.zeros(shape), np.zeros(shape, np.bool_)
    predictions = np.zeros(shape, np.int64)
    top_probability, entropy = np.zeros(shape), np.zeros(shape)
    _filter(padded.reshape(shape), *tables, emission_t, BELIEF_FLOOR, nll, predictions, failed,
            top_probability, entropy)  # fmt: skip
    failed = failed.reshape(-1, seq_len)[:num_sequences]
    if failed.any():
        n, t = np.argwhere(failed)[0]
        raise ValueError(f"sequence {n} position {t + 1}: token has probability 0 under these "
                         "kernels; were the tokens sampled from this graph and seed?")  # fmt: skip

    def unpad(array):
        return array.reshape(-1, seq_len)[:num_sequences]

    return FilterResult(unpad(nll), unpad(predictions), unpad(top_probability), unpad(entropy))


def filter_tables(graph: Graph, kernels: dict) -> tuple:
    """Index tables over the joint latent space (C-order over graph.latent_order)."""
    latents = graph.latent_order
    dims = [graph.node(name).state_dim for name in latents]
    num_states = graph.joint_states
    states = np.indices(dims).reshape(len(dims), num_states)  # states[i, j]: latent i in j
    joint_stride = [int(np.prod(dims[i + 1 :], dtype=np.int64)) for i in range(len(dims))]
    part = np.zeros((max(1, len(latents)), num_states), np.int64)
    flat, slices, rows_per_old, x_step, offset = [], [], [], [], 0
    for i, name in enumerate(latents):
        kernel = np.asarray(kernels[name], np.float64)
        entries, step, strides = _latent_slice(graph, name, kernel.shape)
        slices.append(entries + offset)
        x_step.append(step)
        rows_per_old.append(entries.size // dims[i] ** 2)
        for parent, stride in strides.items():
            part[i] += states[latents.index(parent)] * stride
        flat.append(kernel.ravel())
        offset += kernel.size
    observed = graph.node(graph.observed)
    emission_kernel = np.asarray(kernels[graph.observed], np.float64)
    emission = emission_kernel[tuple(states[latents.index(p)] for p in observed.parents)]
    as_int = lambda values: np.array(values, np.int64)  # noqa: E731
    return (
        as_int(dims), as_int(joint_stride), as_int(rows_per_old),
        as_int(np.cumsum([0] + [s.size for s in slices])),
        np.concatenate(slices) if slices else np.zeros(0, np.int64), as_int(x_step), part,
        np.concatenate(flat) if flat else np.zeros(1),
        np.ascontiguousarray(np.broadcast_to(emission, (num_states, graph.vocab_size))),
    )  # fmt: skip


def _latent_slice(graph: Graph, name: str, shape: tuple):
    """A latent kernel without its X axis: flat indices (at X = 0) in (old, latent parents,
    new) order, the flat step per unit of X (0 without X), and each latent parent's row
    stride in that order."""
    node = graph.node(name)
    flat_index = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    step = 0
    if graph.observed in node.parents:
        axis = 1 + node.parents.index(graph.observed)
        step = int(np.prod(shape[axis + 1 :], dtype=np.int64))
        flat_index = np.take(flat_index, 0, axis=axis)
    latent_parents = [p for p in node.parents if p != graph.observed]
    parent_dims = [graph.node(p).state_dim for p in latent_parents]
    strides = {
        parent: int(np.prod(parent_dims[a + 1 :], dtype=np.int64))
        for a, parent in enumerate(latent_parents)
    }
    return flat_index.ravel(), step, strides
