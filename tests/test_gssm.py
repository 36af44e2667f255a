"""GSSM: graph validation, kernels, samplers, the exact filter, the builder and the stream.

References are independent of the code under test: brute-force enumeration of latent paths,
a dense joint-state forward algorithm, and exact sequence probabilities for frequency tests.
"""

from __future__ import annotations

import itertools
import math
import zlib

import numpy as np
import pytest
from gssm_tiny_graphs import GRAPHS, TINY_GRAPHS, node, tiny
from oracles import gssm_brute_force_nll, gssm_dense_forward, gssm_dense_predictive
from scipy import stats

from latent_lab.errors import UserError
from latent_lab.tasks.gssm.model import (
    GSSM,
    Sampler,
    bayes_entropy_rate,
    bayes_filter,
    compression_rate,
    kernel_arrays,
    load_graph,
    make_kernels,
    parse_graph,
    reference_sample,
    rng_key,
    sample_in_context,
)

# ---------------------------------------------------------------- independent references


def exact_sequence_probabilities(graph, kernels, seq_len):
    """p(x_1..T) for every token sequence (via the filter, itself checked by brute force)."""
    sequences = np.array(list(itertools.product(range(graph.vocab_size), repeat=seq_len)))
    return sequences, np.exp(-bayes_filter(graph, kernels, sequences).bayes_nll)


def chi_square_p_value(observed_counts, probabilities):
    expected = probabilities * observed_counts.sum()
    keep = expected > 0
    statistic = ((observed_counts[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    return stats.chi2.sf(statistic, keep.sum() - 1)


# ------------------------------------------------------------------------- graph parsing


def test_seed_graphs_parse_as_written():
    exp1 = load_graph(GRAPHS / "experiment1.yaml", alpha_X=1e-3, alpha_Z=0.142)
    assert exp1.latent_order == ("Z1", "Z2", "Z3", "Z4") and exp1.joint_states == 256
    dense = load_graph(GRAPHS / "experiment2_dense.yaml", alpha_Z=0.1)
    assert dense.node("X").alpha == 1e-3  # `alpha: 1e-3` is a string to YAML; accepted
    assert dense.latent_order == tuple(f"Z{i}" for i in range(1, 9))


def test_topological_order_follows_latent_parents():
    graph = parse_graph({"gssm": [node("C", 2, ["B"]), node("B", 2, ["A", "X"]), node("A", 2),
                                  node("X", 2, ["C"])], "alpha_X": 1, "alpha_Z": 1})  # fmt: skip
    assert graph.latent_order == ("A", "B", "C")
    assert graph.node_order == ("A", "B", "C", "X")


def test_observed_flag_and_node_alpha_override():
    graph = parse_graph({"gssm": [node("H", 2, ["Y"], alpha=0.5), node("Y", 3, ["H"],
                         observed=True)], "alpha_X": 0.1, "alpha_Z": 0.2})  # fmt: skip
    assert graph.observed == "Y" and graph.node("H").alpha == 0.5 and graph.node("Y").alpha == 0.1


@pytest.mark.parametrize(
    ("nodes", "extra", "names"),
    [
        ([node("A", 2, ["B"]), node("B", 2, ["A"]), node("X", 2, ["A"])], {}, ["A", "B", "cycle"]),
        ([node("A", 2, ["A"]), node("X", 2, ["A"])], {}, ["A", "cycle"]),
        ([node("A", 2, ["Q"]), node("X", 2, ["A"])], {}, ["A", "Q", "parents"]),
        ([node("A", 2), node("A", 3), node("X", 2, ["A"])], {}, ["A", "duplicate"]),
        ([node("A", 2, alpha=0), node("X", 2, ["A"])], {}, ["A", "alpha"]),
        ([node("A", 2), node("X", 2, ["A"])], {"alpha_Z": -1.0}, ["A", "alpha_Z"]),
        ([node("A", 0), node("X", 2, ["A"])], {}, ["A", "state_dim"]),
        ([node("A", 2), node("B", 2, ["A"])], {}, ["observed"]),
        ([node("A", 2), node("X", 2, ["A", "X"])], {}, ["X", "own parent"]),
        ([node("A", 2), node("X", 2, ["A"])], {"alpha_Z": None}, ["A", "alpha"]),
    ],
)
def test_invalid_graphs_are_one_line_user_errors(nodes, extra, names):
    spec = {"gssm": nodes, "alpha_X": 0.5, "alpha_Z": 0.5, **extra}
    with pytest.raises(UserError) as error:
        parse_graph(spec)
    message = str(error.value)
    assert "\n" not in message
    for name in names:
        assert name in message


# ------------------------------------------------------------------------------- kernels


def test_kernel_shapes_rows_and_seeds():
    graph = load_graph(GRAPHS / "experiment2_pairs.yaml", alpha_Z=1e-3)
    kernels = make_kernels(graph, graph_seed=3)
    assert kernels["Z1"].shape == (2, 32, 2)
    assert kernels["Z2"].shape == (2, 32, 2, 2)  # (Z2, X, Z1, Z2'): config parent order
    assert kernels["X"].shape == (2,) * 8 + (32,)
    for kernel in kernels.values():
        assert np.isfinite(kernel).all() and (kernel >= 0).all()
        np.testing.assert_allclose(kernel.sum(axis=-1), 1.0, atol=1e-12)
    assert all(np.array_equal(kernels[n], make_kernels(graph, 3)[n]) for n in kernels)
    assert not np.array_equal(kernels["X"], make_kernels(graph, 4)["X"])
    arrays = kernel_arrays(graph, kernels)
    assert list(arrays["node_order"]) == [*graph.latent_order, "X"]
    assert set(arrays) == {f"kernel_{n}" for n in kernels} | {"node_order"}


def test_dirichlet_rows_match_their_mean():
    graph = tiny("single", alpha_X=2.0)
    rows = np.concatenate([make_kernels(graph, seed)["X"] for seed in range(300)])
    np.testing.assert_allclose(rows.mean(axis=0), 1 / 3, atol=0.02)  # E = alpha / sum alpha
    assert abs(rows[:, 0].var() - (2 * 4) / (6**2 * 7)) < 0.004  # Dirichlet variance


# ------------------------------------------------------------------------------ sampling


def test_sampler_transition_frequencies_match_kernels():
    graph = tiny("single")
    kernels = make_kernels(graph, 0)
    tokens, latents = Sampler(graph, kernels).sample(400, 200, key=7, return_latents=True)
    z, x = latents[:, :, 0], tokens
    for z_now in range(3):
        for x_now in range(3):
            picked = (z[:, :-1] == z_now) & (x[:, :-1] == x_now)
            counts = np.bincount(z[:, 1:][picked], minlength=3)
            assert chi_square_p_value(counts, kernels["Z"][z_now, x_now]) > 1e-4
        counts = np.bincount(x[z == z_now], minlength=3)
        assert chi_square_p_value(counts, kernels["X"][z_now]) > 1e-4


@pytest.mark.parametrize("which", ["fast", "reference"])
def test_samplers_draw_the_exact_sequence_distribution(which):
    graph = tiny("chained")
    kernels = make_kernels(graph, 1)
    sequences, probabilities = exact_sequence_probabilities(graph, kernels, 3)
    assert abs(probabilities.sum() - 1) < 1e-12
    if which == "fast":
        tokens = Sampler(graph, kernels).sample(30000, 3, key=11)
    else:
        tokens = reference_sample(graph, kernels, 30000, 3, np.random.default_rng(11))
    codes = tokens @ (graph.vocab_size ** np.arange(2, -1, -1))
    counts = np.bincount(codes, minlength=len(sequences))
    assert chi_square_p_value(counts, probabilities) > 1e-4


def test_sampling_is_deterministic_and_keyed_by_sequence():
    graph = tiny("latent_parents")
    model = GSSM.from_seed(graph, 0)
    tokens = model.sample(20, 50, key=rng_key(5))
    assert np.array_equal(tokens, model.sample(20, 50, key=rng_key(5)))
    assert np.array_equal(tokens[7:10], model.sample(3, 50, key=rng_key(5), first_sequence=7))
    assert not np.array_equal(tokens, model.sample(20, 50, key=rng_key(6)))
    reference = reference_sample(graph, model.kernels, 4, 9, np.random.default_rng(2))
    assert np.array_equal(reference, reference_sample(graph, model.kernels, 4, 9,
                                                      np.random.default_rng(2)))  # fmt: skip


def test_context_mode_draws_fresh_kernels_per_sequence():
    graph = tiny("single", alpha_X=0.05, alpha_Z=0.05)
    tokens = sample_in_context(graph, 6, 400, key=3)
    assert np.array_equal(tokens, sample_in_context(graph, 6, 400, key=3))
    assert np.array_equal(tokens[2:4], sample_in_context(graph, 2, 400, key=3, first_sequence=2))
    # Near-deterministic kernels differ per sequence, so their unigram statistics differ.
    unigrams = np.stack([np.bincount(row, minlength=3) for row in tokens])
    assert len({tuple(np.argsort(u)) for u in unigrams}) > 1


# ---------------------------------------------------------------------------- the filter


@pytest.mark.parametrize("name", sorted(TINY_GRAPHS))
def test_filter_matches_brute_force(name):
    graph = tiny(name)
    model = GSSM.from_seed(graph, 2)
    tokens = model.sample(5, 4, key=9)
    result = model.bayes(tokens)
    for row, nll in zip(tokens, result.nll, strict=True):
        np.testing.assert_allclose(nll, gssm_brute_force_nll(graph, model.kernels, row), rtol=0,
                                   atol=1e-9)  # fmt: skip


@pytest.mark.parametrize("graph_name", ["experiment1", "experiment2_dense"])
def test_filter_matches_dense_forward_on_seed_graphs(graph_name):
    graph = load_graph(GRAPHS / f"{graph_name}.yaml", alpha_X=1e-3, alpha_Z=0.142)
    model = GSSM.from_seed(graph, 0)
    tokens = model.sample(3, 40, key=1)
    result = model.bayes(tokens)
    for row, nll in zip(tokens, result.nll, strict=True):
        np.testing.assert_allclose(nll, gssm_dense_forward(graph, model.kernels, row)[0], atol=1e-9)
    assert result.predictions.shape == tokens.shape
    assert 0 <= result.bayes_accuracy(tokens) <= 1 and result.bayes_loss > 0


def test_filter_reports_the_predictive_top_probability_and_entropy():
    graph = tiny("latent_parents")
    model = GSSM.from_seed(graph, 4)
    tokens = model.sample(3, 7, rng_key(2, 0))
    result = bayes_filter(graph, model.kernels, tokens)
    predictive = gssm_dense_predictive(graph, model.kernels, tokens)
    np.testing.assert_allclose(result.top_probability, predictive.max(axis=-1), atol=1e-9)
    entropy = -(predictive * np.log(np.where(predictive > 0, predictive, 1))).sum(axis=-1)
    np.testing.assert_allclose(result.entropy, entropy, atol=1e-9)


def test_filter_results_do_not_depend_on_batching():
    model = GSSM.from_seed(tiny("chained"), 4)
    tokens = model.sample(70, 30, key=2)  # 70 sequences: two chunks, the last one padded
    whole = model.bayes(tokens)
    assert np.array_equal(whole.nll[65:], model.bayes(tokens[65:]).nll)  # bit for bit
    assert np.array_equal(whole.predictions[:3], model.bayes(tokens[:3]).predictions)


def test_filter_argmax_is_the_most_likely_next_token():
    graph = tiny("single")
    model = GSSM.from_seed(graph, 0)
    tokens = model.sample(2, 3, key=0)
    for row, predictions in zip(tokens, model.bayes(tokens).predictions, strict=True):
        for t in range(3):
            candidates = np.array([[*row[:t], x] for x in range(graph.vocab_size)])
            probabilities = np.exp(-bayes_filter(graph, model.kernels, candidates).nll[:, t])
            assert predictions[t] == np.argmax(probabilities)


def test_impossible_tokens_raise_instead_of_a_wrong_number():
    graph = tiny("single")
    kernels = {"Z": np.zeros((3, 3, 3)), "X": np.eye(3)}
    kernels["Z"][..., 0] = 1.0  # Z stays 0, so X is always 0
    with pytest.raises(ValueError, match="probability 0"):
        bayes_filter(graph, kernels, np.array([[0, 1]]))


# ------------------------------------------------------------------------- difficulty


def test_difficulty_measures():
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 32, size=(64, 512))
    assert 0.97 < compression_rate(uniform, 32) < 1.1
    constant = np.zeros((64, 512), np.int64)
    data = constant.astype(np.uint8).tobytes()
    expected = 8 * len(zlib.compress(data, 9)) / constant.size / math.log2(32)
    assert compression_rate(constant, 32) == pytest.approx(expected) and expected < 0.01
    assert bayes_entropy_rate(math.log(32), 32) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        compression_rate(uniform, 300)
