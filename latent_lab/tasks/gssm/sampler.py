"""GSSM sequence sampling (docs/spec/gssm.md, "Dynamics"): a fast numba sampler and a reference.

Fast path (numba): groups of LANES sequences stepped in lockstep, `prange` over groups; every
kernel row turned into an alias table (one uniform per draw, O(1) whatever the state dim); a
counter-based RNG: draw n of sequence s is splitmix64(key(seed, s) + n * golden), so the tokens
of a sequence depend only on (seed, sequence index), never on batching, threads or scheduling.
About 20M tokens/s per core on the experiment-1 graph (bench/gssm_sampling.py).

Updating one state vector in place in node order (latents topologically, then X) is exactly
the spec's step: a latent reads its own state at t (not yet overwritten), latent parents at
t+1 (already overwritten) and X at t (X is updated last).
"""

from __future__ import annotations

import numba
import numpy as np

from latent_lab.tasks.gssm.graph import Graph

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
UNIT_53 = 1.0 / float(1 << 53)
LANES = 8  # sequences sampled in lockstep by one thread
RNG_BLOCK = 64  # time steps whose uniforms are hashed in one vectorised pass


def mix64(value: int) -> int:
    """splitmix64's finalizer on Python ints (same arithmetic as the jitted `_mix64`)."""
    z = value & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def rng_key(*parts: int) -> int:
    """Hash integers (seed, split, rank, worker, ...) into one 64-bit sampling key."""
    key = GOLDEN
    for part in parts:
        key = mix64(key ^ mix64((int(part) & MASK64) + GOLDEN))
    return key


@numba.njit(inline="always")
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def alias_tables(rows):
    """Vose's alias tables for each row of a (num_rows, dim) array of probabilities."""
    num_rows, dim = rows.shape
    accept = np.ones((num_rows, dim))
    alias = np.zeros((num_rows, dim), np.int32)
    scaled = np.empty(dim)
    small = np.empty(dim, np.int64)
    large = np.empty(dim, np.int64)
    for row in range(num_rows):
        num_small = 0
        num_large = 0
        for i in range(dim):
            alias[row, i] = i
            scaled[i] = rows[row, i] * dim
            if scaled[i] < 1.0:
                small[num_small] = i
                num_small += 1
            else:
                large[num_large] = i
                num_large += 1
        while num_small > 0 and num_large > 0:
            num_small -= 1
            low = small[num_small]
            high = large[num_large - 1]
            accept[row, low] = scaled[low]
            alias[row, low] = high
            scaled[high] -= 1.0 - scaled[low]  # accurate form of high + low - 1
            if scaled[high] < 1.0:
                num_large -= 1
                small[num_small] = high
                num_small += 1
        # Leftovers (large, or rounding residue of about 1) keep accept = 1, alias = self.
    return accept, alias


@numba.njit(cache=True)
def _sample_group(tables, node_offset, node_dim, cond_count, cond_node, cond_stride,
                  per_sequence, key, first, tokens, latents, save_latents):  # fmt: skip
    """Sequences first..first+LANES-1 in lockstep: their independent dependency chains
    (state -> kernel row -> draw -> state) overlap in the CPU, unlike one sequence alone."""
    num_sequences, seq_len = tokens.shape
    num_nodes = node_dim.shape[0]
    observed = num_nodes - 1
    lanes = min(LANES, num_sequences - first)
    width = tables.shape[0] // 2 // (num_sequences if per_sequence else 1)  # one table set
    golden = np.uint64(GOLDEN)
    state = np.zeros((LANES, num_nodes + 1), np.int64)  # the extra slot stays 0 (padding)
    stream = np.zeros(LANES, np.uint64)
    table = np.zeros(LANES, np.int64)
    for lane in range(lanes):
        sequence = key[1] + np.uint64(first + lane)
        stream[lane] = _mix64(key[0] ^ _mix64(sequence * golden + golden))
        if per_sequence:
            table[lane] = (first + lane) * width
    scaled = np.empty((RNG_BLOCK, num_nodes, LANES))
    block = np.empty((LANES, RNG_BLOCK), np.int64)
    for start in range(0, seq_len, RNG_BLOCK):
        steps = min(RNG_BLOCK, seq_len - start)
        # The uniforms do not depend on the states: hash a block of them first (vectorised).
        for step in range(steps):
            for k in range(num_nodes):
                draw = np.uint64((start + step) * num_nodes + k + 1)
                scale = UNIT_53 * node_dim[k]
                for lane in range(LANES):
                    bits = _mix64(stream[lane] + draw * golden)
                    scaled[step, k, lane] = float(np.int64(bits >> np.uint64(11))) * scale
        for step in range(steps):
            for k in range(num_nodes):
                _draw_node(tables, node_offset[k], node_dim[k], cond_count[k], cond_node[k],
                           cond_stride[k], table, scaled[step, k], state, k, lanes)  # fmt: skip
            for lane in range(lanes):
                block[lane, step] = state[lane, observed]
                if save_latents:
                    for k in range(observed):
                        latents[first + lane, start + step, k] = state[lane, k]
        for lane in range(lanes):  # one contiguous write per sequence and block
            tokens[first + lane, start : start + steps] = block[lane, :steps]


@numba.njit(cache=True, inline="always")
def _draw_node(tables, offset, dim, count, cond_node, cond_stride, table, scaled, state, k,
               lanes):  # fmt: skip
    """Node k's next state in every lane: alias draw from the kernel row its parents pick."""
    n0, n1, n2, n3 = cond_node[0], cond_node[1], cond_node[2], cond_node[3]
    s0, s1, s2, s3 = cond_stride[0], cond_stride[1], cond_stride[2], cond_stride[3]
    for lane in range(lanes):
        # First four conditioning states unrolled (padding: the zero slot, stride 0).
        row = state[lane, n0] * s0 + state[lane, n1] * s1
        row += state[lane, n2] * s2 + state[lane, n3] * s3
        for c in range(4, count):
            row += state[lane, cond_node[c]] * cond_stride[c]
        column = min(int(scaled[lane]), dim - 1)
        entry = 2 * (table[lane] + offset + row * dim + column)
        # Branch-free: the coin is unpredictable, a mispredicted branch costs ~8 ns.
        keep = scaled[lane] - column < tables[entry]
        other = int(tables[entry + 1])
        state[lane, k] = column if keep else other


@numba.njit(parallel=True, cache=True)
def _sample(tables, node_offset, node_dim, cond_count, cond_node, cond_stride,
            per_sequence, key, tokens, latents, save_latents):  # fmt: skip
    num_groups = (tokens.shape[0] + LANES - 1) // LANES
    for group in numba.prange(num_groups):
        _sample_group(tables, node_offset, node_dim, cond_count, cond_node, cond_stride,
                      per_sequence, key, group * LANES, tokens, latents, save_latents)  # fmt: skip


class Sampler:
    """Samples token sequences for one graph. `kernels`: node name -> kernel (shared by all
    sequences), or node name -> (num_sequences, *kernel shape) with `per_sequence=True`."""

    def __init__(self, graph: Graph, kernels: dict, per_sequence: bool = False):
        self.graph = graph
        self.per_sequence = per_sequence
        order = graph.node_order
        self.node_dim = np.array([graph.node(name).state_dim for name in order], np.int64)
        self.cond_count, self.cond_node, self.cond_stride = _conditioning(graph)
        accepts, aliases, offsets, offset = [], [], [], 0
        for name in order:
            kernel = np.asarray(kernels[name], np.float64)
            lead = kernel.shape[0] if per_sequence else 1
            dim = graph.node(name).state_dim
            accept, alias = alias_tables(np.ascontiguousarray(kernel.reshape(-1, dim)))
            accepts.append(accept.reshape(lead, -1))
            aliases.append(alias.reshape(lead, -1))
            offsets.append(offset)
            offset += accepts[-1].shape[1]
        accept = np.concatenate(accepts, axis=1)
        # Interleaved (accept, alias) pairs: one cache line per draw instead of two.
        self.tables = np.stack([accept, np.concatenate(aliases, axis=1)], axis=-1).ravel()
        self.num_table_sets = accept.shape[0]
        self.node_offset = np.array(offsets, np.int64)

    def sample(self, num_sequences: int, seq_len: int, key: int, first_sequence: int = 0,
               return_latents: bool = False):  # fmt: skip
        """Tokens X(1..T) as int64 (num_sequences, seq_len); with return_latents also the
        latent states (num_sequences, seq_len, num_latents) in graph.latent_order."""
        if self.per_sequence and self.num_table_sets != num_sequences:
            raise ValueError("per-sequence kernels: num_sequences must match the kernel stack")
        tokens = np.empty((num_sequences, seq_len), np.int64)
        num_latents = len(self.graph.latent_order)
        latents = np.empty((num_sequences, seq_len, num_latents) if return_latents else (0, 0, 0),
                           np.int32)  # fmt: skip
        key_and_first = np.array([key & MASK64, first_sequence & MASK64], np.uint64)
        _sample(self.tables, self.node_offset, self.node_dim, self.cond_count,
                self.cond_node, self.cond_stride, self.per_sequence, key_and_first, tokens,
                latents, return_latents)  # fmt: skip
        return (tokens, latents) if return_latents else tokens


def _conditioning(graph: Graph):
    """Per node (in node order): which states index its kernel row, and with what strides."""
    order = graph.node_order
    conditions = []
    for name in order:
        node = graph.node(name)
        own = () if node.observed else (name,)  # a latent also conditions on itself
        variables = own + node.parents
        axes = graph.kernel_shape(name)[:-1]
        strides = [int(np.prod(axes[i + 1 :], dtype=np.int64)) for i in range(len(axes))]
        conditions.append([(order.index(v), s) for v, s in zip(variables, strides, strict=True)])
    width = max(4, max(len(c) for c in conditions))  # the sampler unrolls four
    count = np.array([len(c) for c in conditions], np.int64)
    nodes = np.full((len(order), width), len(order), np.int64)  # padding: the zero slot
    strides = np.zeros((len(order), width), np.int64)
    for k, condition in enumerate(conditions):
        for c, (index, stride) in enumerate(condition):
            nodes[k, c], strides[k, c] = index, stride
    return count, nodes, strides


def reference_sample(graph: Graph, kernels: dict, num_sequences: int, seq_len: int,
                     rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Plain numpy, step by step (slow, obviously correct): inverse-CDF draws from the kernel
    rows picked by the spec's dynamics. Same distribution as `Sampler`, other random stream."""
    state = {node.name: np.zeros(num_sequences, np.int64) for node in graph.nodes}
    tokens = np.empty((num_sequences, seq_len), np.int64)
    for t in range(seq_len):
        for name in graph.node_order:
            node = graph.node(name)
            own = () if node.observed else (state[name],)
            rows = kernels[name][(*own, *(state[p] for p in node.parents))]
            state[name] = _inverse_cdf(rows, rng.random(num_sequences))
        tokens[:, t] = state[graph.observed]
    return tokens


def _inverse_cdf(rows: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(rows, axis=1)
    targets = uniforms * cdf[:, -1]
    choice = (cdf <= targets[:, None]).sum(axis=1)
    return np.minimum(choice, rows.shape[1] - 1)
