"""Graph-structured state-space data (docs/spec/gssm.md): kernels, sampling, exact Bayes reference.

    model = GSSM.from_seed(load_graph("graph.yaml", alpha_X=1e-3, alpha_Z=0.142), graph_seed=0)
    tokens = model.sample(num_sequences=16, seq_len=2048, key=rng_key(data_seed))
    reference = model.bayes(tokens)     # reference.bayes_nll, .bayes_loss, .bayes_accuracy()

Parts: gssm_graph (YAML notation, validation), gssm_sampler (numba sampler, numpy reference),
gssm_filter (exact forward filter). Pure numpy/numba: no Hugging Face imports.

Dirichlet rows with tiny alpha: numpy's gamma(1e-3) underflows to 0 in float64, giving 0/0
rows. Kernels are drawn in log space instead: Gamma(a) = Gamma(a + 1) * U**(1/a), so
log G = log Gamma(a + 1) + log(U) / a is finite for any a > 0, and a row is the softmax of its
log G. Entries below KERNEL_FLOOR are then set to 0 and the row renormalised (a change of at
most 1e-148 per row) so that sampling and filtering never meet subnormal numbers.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from latent_lab.tasks.gssm.filter import FilterResult, bayes_filter
from latent_lab.tasks.gssm.graph import Graph, Node, load_graph, parse_graph
from latent_lab.tasks.gssm.sampler import Sampler, reference_sample, rng_key

__all__ = [
    "GSSM", "FilterResult", "Graph", "Node", "Sampler", "bayes_entropy_rate", "bayes_filter",
    "compression_rate", "context_kernels", "dirichlet_rows", "kernel_arrays", "load_graph",
    "make_kernels", "parse_graph", "reference_sample", "rng_key", "sample_in_context",
]  # fmt: skip

KERNEL_FLOOR = 1e-150
CONTEXT_TAG = 0xC0FFEE  # separates in-context kernel draws from token draws


def dirichlet_rows(rng: np.random.Generator, alpha: float, shape: tuple) -> np.ndarray:
    """Rows (last axis) i.i.d. Dirichlet(alpha * 1), robust for tiny alpha (module doc)."""
    log_gamma = np.log(rng.gamma(alpha + 1.0, size=shape))
    log_gamma += np.log1p(-rng.random(shape)) / alpha  # 1 - U lies in (0, 1]
    rows = np.exp(log_gamma - log_gamma.max(axis=-1, keepdims=True))
    rows /= rows.sum(axis=-1, keepdims=True)
    rows[rows < KERNEL_FLOOR] = 0.0
    rows /= rows.sum(axis=-1, keepdims=True)
    return rows


def make_kernels(graph: Graph, graph_seed: int) -> dict[str, np.ndarray]:
    """Every node's kernel, drawn in config order from the graph seed alone."""
    rng = np.random.default_rng(graph_seed)
    return {
        node.name: dirichlet_rows(rng, node.alpha, graph.kernel_shape(node.name))
        for node in graph.nodes
    }


def context_kernels(graph: Graph, key: int, first_sequence: int, num_sequences: int) -> dict:
    """Fresh kernels per sequence (context mode): node -> (num_sequences, *kernel shape).
    Sequence s's kernels depend only on (key, s), like its tokens."""
    stacks: dict[str, list] = {node.name: [] for node in graph.nodes}
    for sequence in range(first_sequence, first_sequence + num_sequences):
        kernels = make_kernels(graph, rng_key(key, CONTEXT_TAG, sequence))
        for name, kernel in kernels.items():
            stacks[name].append(kernel)
    return {name: np.stack(stack) for name, stack in stacks.items()}


def kernel_arrays(graph: Graph, kernels: dict) -> dict[str, np.ndarray]:
    """The npz layout shared with `latent-lab gssm sample`: `kernel_<name>` per node and
    `node_order` (latents topologically, then the observed node: the update order)."""
    arrays = {f"kernel_{node.name}": np.asarray(kernels[node.name]) for node in graph.nodes}
    arrays["node_order"] = np.array(graph.node_order)
    return arrays


@dataclass
class GSSM:
    """A graph with fixed kernels: samples tokens and computes the exact Bayes reference."""

    graph: Graph
    kernels: dict[str, np.ndarray]
    _sampler: Sampler | None = field(default=None, repr=False)

    @classmethod
    def from_seed(cls, graph: Graph, graph_seed: int) -> GSSM:
        return cls(graph, make_kernels(graph, graph_seed))

    def sample(self, num_sequences: int, seq_len: int, key: int, first_sequence: int = 0,
               return_latents: bool = False):  # fmt: skip
        """Tokens (num_sequences, seq_len) int64; sequence s depends only on (key, s)."""
        if self._sampler is None:
            self._sampler = Sampler(self.graph, self.kernels)
        return self._sampler.sample(num_sequences, seq_len, key, first_sequence, return_latents)

    def bayes(self, tokens: np.ndarray) -> FilterResult:
        return bayes_filter(self.graph, self.kernels, tokens)

    def kernel_arrays(self) -> dict[str, np.ndarray]:
        return kernel_arrays(self.graph, self.kernels)


def sample_in_context(graph: Graph, num_sequences: int, seq_len: int, key: int,
                      first_sequence: int = 0) -> np.ndarray:  # fmt: skip
    """Context mode: every sequence gets fresh kernels (no Bayes reference is available)."""
    kernels = context_kernels(graph, key, first_sequence, num_sequences)
    sampler = Sampler(graph, kernels, per_sequence=True)
    return sampler.sample(num_sequences, seq_len, key, first_sequence)


def compression_rate(tokens: np.ndarray, vocab_size: int) -> float:
    """zlib level 9 on the tokens stored one byte each, in bits per token / log2(vocab):
    about 1 for uniform noise, lower for more predictable data."""
    if not 2 <= vocab_size <= 256:
        raise ValueError(f"compression_rate needs 2 <= vocab_size <= 256, got {vocab_size}")
    data = np.asarray(tokens).astype(np.uint8).tobytes()
    bits_per_token = 8.0 * len(zlib.compress(data, 9)) / max(1, np.asarray(tokens).size)
    return bits_per_token / math.log2(vocab_size)


def bayes_entropy_rate(bayes_loss: float, vocab_size: int) -> float:
    """Exact difficulty: the Bayes-optimal loss (nats per token) / ln(vocab)."""
    if vocab_size < 2:
        raise ValueError(f"bayes_entropy_rate needs vocab_size >= 2, got {vocab_size}")
    return bayes_loss / math.log(vocab_size)
