"""GSSM data as a `datasets` builder: config (latent_lab.tasks.gssm.config) -> sampler -> rows.

    GSSMBuilder(config_name="experiment1", num_train=64, seq_len=256).download_and_prepare()

Rows: input_ids (X(1..T), token ids 0..dim X - 1) and bayes_nll (the exact Bayes-optimal
-ln p summed over the sequence, nats; None in context mode, where it is not available).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np

from latent_lab.tasks.gssm.config import SPLIT_KEYS, GSSMDataConfig
from latent_lab.tasks.gssm.filter import check_tractable
from latent_lab.tasks.gssm.model import GSSM, kernel_arrays, rng_key, sample_in_context

DESCRIPTION = (
    "Graph-structured state-space sequences: latent Markov chains driven by the observed token "
    "X, which is emitted from its latent parents; every kernel row is Dirichlet(alpha). Each "
    "row carries the exact Bayes-optimal loss of its sequence (a forward filter over the joint "
    "latent state), so a model's excess loss over the optimum is exact."
)
# Bump when generated rows change for the same config (the cache is keyed by config).
VERSION = datasets.Version("1.0.0")
FEATURES = datasets.Features(
    {"input_ids": datasets.List(datasets.Value("int64")), "bayes_nll": datasets.Value("float64")}
)
CHUNK_SEQUENCES = 256  # sequences sampled and filtered together


@dataclass
class GSSMConfig(datasets.BuilderConfig, GSSMDataConfig):
    """A named builder config holding the GSSM data fields (latent_lab/tasks/gssm/config.py)."""

    def __post_init__(self):
        datasets.BuilderConfig.__post_init__(self)
        self.validate()

    def create_config_id(self, config_kwargs: dict, custom_features=None) -> str:
        # Key the cache by the graph's content, not its file name: an edited file rebuilds.
        parsed = self.parsed_graph()
        if not self.context:  # every row carries its exact bayes_nll: refused before sampling
            check_tractable(parsed)
        graph = parsed.to_mapping()
        digest = hashlib.sha256(json.dumps(graph, sort_keys=True).encode()).hexdigest()[:16]
        config_kwargs = {**config_kwargs, "graph": digest}
        return super().create_config_id(config_kwargs, custom_features)


def _config(name: str, graph: str, description: str, **fields) -> GSSMConfig:
    return GSSMConfig(name=name, graph=graph, version=VERSION, description=description, **fields)


class GSSMBuilder(datasets.GeneratorBasedBuilder):
    """The seeds' graphs as named configs; any field can be overridden."""

    VERSION = VERSION
    BUILDER_CONFIG_CLASS = GSSMConfig
    BUILDER_CONFIGS = [
        _config("experiment1", "experiment1", "Experiment 1, small alpha_X (easy to infer "
                "latents): alpha_X 1e-3, alpha_Z 0.142 (the graph's defaults)."),
        _config("experiment1_small_Z", "experiment1", "Experiment 1, small alpha_Z (easy to "
                "predict latents): alpha_X 5.7e-2, alpha_Z 1e-3.", alpha_X=5.7e-2, alpha_Z=1e-3),
        *(
            _config(f"experiment2_{kind}", f"experiment2_{kind}", f"Experiment 2, {kind} "
                    "latents (X alpha 1e-3, alpha_Z 0.22: the graph's defaults).")
            for kind in ("independent", "pairs", "chain", "dense")
        ),
    ]  # fmt: skip
    DEFAULT_CONFIG_NAME = "experiment1"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=FEATURES, license="mit")

    def model(self) -> GSSM:
        """The graph with its kernels (fixed by graph_seed alone)."""
        return GSSM.from_seed(self.config.parsed_graph(), self.config.graph_seed)

    def _split_generators(self, dl_manager):
        self.config.validate()  # datasets sets overrides with setattr, skipping __post_init__
        sizes = {
            datasets.Split.TRAIN: self.config.num_train,
            datasets.Split.VALIDATION: self.config.num_validation,
        }
        return [
            datasets.SplitGenerator(split, {"split_index": index, "size": sizes[split]})
            for split, index in SPLIT_KEYS.items()
        ]

    def _generate_examples(self, split_index: int, size: int):
        config = self.config
        model = self.model()
        key = rng_key(config.data_seed, split_index)
        for start in range(0, size, CHUNK_SEQUENCES):
            count = min(CHUNK_SEQUENCES, size - start)
            if config.context:
                tokens = sample_in_context(model.graph, count, config.seq_len, key, start)
                nll = [None] * count
            else:
                tokens = model.sample(count, config.seq_len, key, first_sequence=start)
                nll = model.bayes(tokens).bayes_nll.tolist()
            for offset in range(count):
                row = {"input_ids": tokens[offset].tolist(), "bayes_nll": nll[offset]}
                yield start + offset, row

    def write_extras(self, dataset_dict, out_dir) -> None:
        """kernels.npz beside the data: `kernel_<name>` per node and `node_order`, the
        layout of `latent-lab gssm sample`. Context mode has no fixed kernels to save."""
        if self.config.context:
            return
        model = self.model()
        np.savez(Path(out_dir) / "kernels.npz", **kernel_arrays(model.graph, model.kernels))

    def card_description(self) -> str:
        config = self.config
        graph = config.parsed_graph()
        lines = [DESCRIPTION, "", config.description or "", "", "Graph (node: dim <- parents, "
                 "alpha):"]  # fmt: skip
        for node in graph.nodes:
            parents = ", ".join(node.parents) or "none"
            lines.append(f"- {node.name}{' (observed)' if node.observed else ''}: "
                         f"{node.state_dim} <- {parents}, alpha {node.alpha:g}")  # fmt: skip
        lines += [
            "",
            f"Kernels from graph_seed {config.graph_seed}; sequences from data_seed "
            f"{config.data_seed}; {config.num_train} train and {config.num_validation} "
            f"validation sequences of {config.seq_len} tokens (vocabulary {graph.vocab_size}).",
        ]
        if config.context:
            lines.append("Context mode: fresh kernels for every sequence, so bayes_nll is "
                         "None (no exact reference) and no kernels.npz is saved.")  # fmt: skip
        else:
            lines.append("kernels.npz holds every node's kernel (`kernel_<name>`, layout in "
                         "docs/spec/gssm.md) and `node_order`.")  # fmt: skip
        return "\n".join(line for line in lines if line is not None)
