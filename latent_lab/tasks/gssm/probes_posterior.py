"""GSSM probe data: sequences of the run's graph and kernels, fed as [BOS, X(1..T)], and at the
input position of every X(t) the exact per-node marginals of the filtering posterior
p(Z(t) | X(1..t)) (probes.py says why this one).

The marginals come from the exact filter's own steps (filter.py: the same tables, transitions
and conditioning, so they are the posterior bayes_loss is computed with), in a loop that
sums the joint belief onto each latent's axis after conditioning on X(t). No prange: torch
shares numba's OpenMP pool (see gssm/run.py), and the probe data is small.
"""

from __future__ import annotations

import numba
import numpy as np

from latent_lab.analysis.probes import ProbeSet
from latent_lab.errors import UserError
from latent_lab.tasks.gssm.filter import (
    BELIEF_FLOOR,
    FASTMATH,
    MAX_JOINT_STATES,
    MAX_LANES,
    _condition,
    _gather_kernels,
    _transition,
    filter_tables,
)


@numba.njit(cache=True, fastmath=FASTMATH)
def _marginal_filter(tokens, latent_dim, joint_stride, rows_per_old, slice_offset, slice_index,
                     x_step, part, kernels, emission, floor, marginals):  # fmt: skip
    """tokens (chunks, lanes, T); marginals (chunks, lanes, T, sum of latent dims) <- per
    latent, p(Z_i(t) | X(1..t)) at t = 1..T."""
    chunks, lanes, seq_len = tokens.shape
    num_states = emission.shape[0]
    offset = np.zeros(latent_dim.shape[0] + 1, np.int64)
    for i in range(latent_dim.shape[0]):
        offset[i + 1] = offset[i] + latent_dim[i]
    for chunk in range(chunks):
        belief = np.zeros((num_states, lanes))
        belief[0, :] = 1.0  # every node starts in state 0
        scratch = np.empty((num_states, lanes))
        gathered = np.empty((max(1, slice_index.shape[0]), lanes))
        previous = np.zeros(lanes, np.int64)  # X(0) = 0
        for t in range(seq_len):
            _gather_kernels(kernels, slice_index, slice_offset, x_step, previous, gathered)
            for i in range(latent_dim.shape[0]):  # topological order: Z(t-1) -> Z(t)
                _transition(belief, scratch, gathered, slice_offset[i], latent_dim[i],
                            joint_stride[i], rows_per_old[i], part[i], floor)  # fmt: skip
                belief, scratch = scratch, belief
            previous[:] = tokens[chunk, :, t]
            _condition(belief, emission, previous, floor)  # now p(Z(t) | X(1..t))
            for j in range(num_states):
                for i in range(latent_dim.shape[0]):
                    column = offset[i] + (j // joint_stride[i]) % latent_dim[i]
                    for lane in range(lanes):
                        marginals[chunk, lane, t, column] += belief[j, lane]


def filter_marginals(graph, kernels: dict, tokens: np.ndarray) -> dict[str, np.ndarray]:
    """Latent name -> (num_sequences, T, state dim): p(Z(t) | X(1..t)) for t = 1..T."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.ndim != 2 or not tokens.size:
        raise ValueError(f"tokens must be a non-empty (num_sequences, T), got {tokens.shape}")
    if tokens.min() < 0 or tokens.max() >= graph.vocab_size:
        raise ValueError(f"tokens must lie in 0..{graph.vocab_size - 1}")
    if graph.joint_states > MAX_JOINT_STATES:
        raise UserError(f"graph: {graph.joint_states} joint latent states exceed the exact "
                        f"filter's {MAX_JOINT_STATES}; use fewer or smaller latents")  # fmt: skip
    tables = filter_tables(graph, kernels)
    num_sequences, seq_len = tokens.shape
    lanes = min(MAX_LANES, num_sequences)
    chunks = -(-num_sequences // lanes)
    padded = np.repeat(tokens[:1], chunks * lanes, axis=0)  # spare lanes: a real sequence
    padded[:num_sequences] = tokens
    dims = [graph.node(name).state_dim for name in graph.latent_order]
    marginals = np.zeros((chunks, lanes, seq_len, sum(dims)))
    try:
        _marginal_filter(padded.reshape(chunks, lanes, seq_len), *tables, BELIEF_FLOOR, marginals)
    except ZeroDivisionError:
        raise ValueError("a token has probability 0 under these kernels; were the tokens "
                         "sampled from this graph and seed?") from None  # fmt: skip
    marginals = marginals.reshape(chunks * lanes, seq_len, -1)[:num_sequences]
    bounds = np.cumsum([0, *dims])
    return {
        name: marginals[:, :, bounds[i] : bounds[i + 1]]
        for i, name in enumerate(graph.latent_order)
    }


def data_config(record: dict, settings):
    """The run's GSSM data fields (or the settings' builder config), validated."""
    from dataclasses import fields

    from latent_lab.tasks.builders import make_builder
    from latent_lab.tasks.gssm.config import GSSMDataConfig

    if settings.dataset is not None:
        return make_builder("gssm", settings.dataset).config
    recorded = record.get("config") or {}
    names = [f.name for f in fields(GSSMDataConfig)]
    overrides = {name: recorded[name] for name in names if recorded.get(name) is not None}
    return make_builder("gssm", recorded.get("dataset"), **overrides).config


def probe_sets(record: dict, settings, splits: tuple[str, str], targets) -> tuple:
    """(train ProbeSet, test ProbeSet, what they are) for `posterior`: the first sequences
    of the builder's splits (the same keys), as many as the row and position caps use."""
    import torch

    from latent_lab.tasks.gssm.config import SPLIT_KEYS
    from latent_lab.tasks.gssm.model import GSSM, rng_key

    threads = torch.get_num_threads()  # numba's parallel sampler resets it (see gssm/run.py)
    config = data_config(record, settings)
    if config.context:
        raise UserError("--target posterior: this run has fresh kernels per sequence (context: "
                        "true), so there is no exact filter posterior to probe for")  # fmt: skip
    model = GSSM.from_seed(config.parsed_graph(), config.graph_seed)
    bos = model.graph.vocab_size
    sets = []
    for split, max_rows, max_positions in zip(
        splits,
        (settings.max_train_rows, settings.max_test_rows),
        (settings.max_train_positions, settings.max_test_positions),
        strict=True,
    ):
        size = config.num_train if split == "train" else config.num_validation
        rows = min(max_rows, size, -(-max_positions // config.seq_len))
        tokens = model.sample(rows, config.seq_len, rng_key(config.data_seed, SPLIT_KEYS[split]))
        marginals = filter_marginals(model.graph, model.kernels, tokens)
        sets.append(ProbeSet(
            sequences=[np.concatenate([[bos], row]) for row in tokens],
            positions=[np.arange(1, config.seq_len + 1)] * rows,  # X(t) sits at input t
            targets={"posterior": {name: list(values) for name, values in marginals.items()}},
            pad_token_id=bos, vocab_size=bos + 1,
        ))  # fmt: skip
    torch.set_num_threads(threads)
    about = {"graph": config.graph, "alpha_X": config.alpha_X, "alpha_Z": config.alpha_Z,
             "graph_seed": config.graph_seed, "data_seed": config.data_seed,
             "seq_len": config.seq_len, "splits": list(splits)}  # fmt: skip
    return sets[0], sets[1], about
