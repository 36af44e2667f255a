"""The GSSM data fields: what a builder config holds and a recipe may set (one definition for
both: data_builders/gssm.py and arguments.py derive from it), checked without reading data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.tasks.gssm import GRAPHS_DIR
from latent_lab.tasks.gssm.graph import parse_graph
from latent_lab.tasks.sizes import check_at_most, check_product

# Each split's part of the sampling key: the validation split's sequences are the same for a
# finite run and an on-the-fly one (whose stream has keys of its own).
SPLIT_KEYS = {"train": 0, "validation": 1}


# Size limits (checked before any sequence is sampled): sampling with the exact reference runs
# at about 500,000 tokens a second on one core, so MAX_SPLIT_TOKENS takes about half an hour.
MAX_SEQUENCES = 10_000_000  # num_train, num_validation
MAX_SEQ_LEN = 1_000_000  # tokens per sequence
MAX_SPLIT_TOKENS = 1_000_000_000  # sequences x seq_len, per split


def graph_source(graph) -> Path | None:
    """A graph field naming a shipped graph (`experiment1`) or a YAML file -> its path."""
    if isinstance(graph, Mapping):
        return None
    shipped = GRAPHS_DIR / f"{graph}.yaml"
    return shipped if shipped.is_file() else Path(graph)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass
class GSSMDataConfig:
    """graph: a shipped graph name (see latent_lab/tasks/gssm/graphs), a YAML path, or (from
    Python) the mapping itself; alpha_X / alpha_Z: override the graph's defaults (a node's own
    alpha still wins); graph_seed fixes the kernels, data_seed the sequences."""

    graph: str = _field("experiment1", "shipped graph name or YAML path")
    alpha_X: float | None = _field(None, "default alpha of the observed node X")
    alpha_Z: float | None = _field(None, "default alpha of every latent node")
    num_train: int = _field(1024, "training sequences (finite data)")
    num_validation: int = _field(64, "held-out sequences, scored beside their exact reference")
    seq_len: int = _field(2048, "tokens per sequence, T")
    graph_seed: int = _field(0, "fixes the kernels")
    data_seed: int = _field(0, "fixes the sequences")
    context: bool = _field(False, "fresh kernels for every sequence (in-context learning)")

    def validate(self) -> None:
        """Checks without I/O; a graph file is read when the builder is made."""
        for name in ("num_train", "num_validation", "seq_len", "graph_seed", "data_seed"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # YAML reads 1e3 as a float
                setattr(self, name, value)
            minimum = 0 if name.endswith("seed") else 1
            if not _is_int(value) or value < minimum:
                raise UserError(f"{name}: expected an integer >= {minimum}, got {value!r}")
        check_at_most("seq_len", self.seq_len, MAX_SEQ_LEN, "tokens per sequence")
        for name in ("num_train", "num_validation"):
            check_at_most(name, getattr(self, name), MAX_SEQUENCES, "sequences per split")
            check_product((name, "seq_len"), (getattr(self, name), self.seq_len),
                          MAX_SPLIT_TOKENS, "tokens per split")  # fmt: skip
        if not isinstance(self.context, bool):
            raise UserError(f"context: expected true or false, got {self.context!r}")
        if isinstance(self.graph, Mapping):
            self.parsed_graph()  # no I/O needed: check it now
        elif not isinstance(self.graph, str) or not self.graph:
            raise UserError("graph: expected a shipped graph name, a YAML path or a mapping")

    def parsed_graph(self):
        if isinstance(self.graph, Mapping):
            return parse_graph(self.graph, self.alpha_X, self.alpha_Z, source="graph")
        from latent_lab.config import load_yaml

        path = graph_source(self.graph)
        if not path.is_file():
            shipped = ", ".join(sorted(p.stem for p in GRAPHS_DIR.glob("*.yaml")))
            raise UserError(f"graph: {self.graph!r} is neither a file nor a shipped graph "
                            f"({shipped}); fix the path or the name")  # fmt: skip
        return parse_graph(load_yaml(path), self.alpha_X, self.alpha_Z, source=f"graph {path}")
