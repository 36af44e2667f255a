"""GSSM graphs: parse and validate the seeds' YAML notation (docs/spec/gssm.md, "Graph").

    gssm:
      - {name: Z1, state_dim: 4, parents: [X]}
      - {name: X,  state_dim: 32, parents: [Z1], alpha: 1e-3}
    alpha_X: 1e-3     # default alpha of the observed node
    alpha_Z: 0.142    # default alpha of every latent node

Every mistake is a one-line UserError naming the node, the field and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from latent_lab.errors import UserError

GRAPH_KEYS = ("gssm", "alpha_X", "alpha_Z")
# A node's kernel has one row per joint state of its parents (and its own previous state): at
# most this many probabilities (1 GiB of float64), checked before any kernel is drawn. The
# exact filter's own limit on the joint latent state is filter.MAX_JOINT_STATES.
MAX_KERNEL_ENTRIES = 1 << 27
NODE_KEYS = ("name", "state_dim", "parents", "alpha", "observed")


@dataclass(frozen=True)
class Node:
    name: str
    state_dim: int
    parents: tuple[str, ...]  # in config order: the order of the kernel's axes
    alpha: float
    observed: bool


@dataclass(frozen=True)
class Graph:
    nodes: tuple[Node, ...]  # config order (kernels are drawn in this order)
    observed: str
    latent_order: tuple[str, ...]  # a topological order of the latent-only subgraph

    def node(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    @property
    def node_order(self) -> tuple[str, ...]:
        """Update order within one time step: latents (topologically), then the observed node."""
        return (*self.latent_order, self.observed)

    @property
    def vocab_size(self) -> int:
        return self.node(self.observed).state_dim

    @property
    def joint_states(self) -> int:
        """Size of the joint latent space the exact filter tracks."""
        return math.prod(self.node(name).state_dim for name in self.latent_order)

    def kernel_shape(self, name: str) -> tuple[int, ...]:
        """(dim Z, dim P1..Pk, dim Z) for a latent, (dim P1..Pk, dim X) for the observed node."""
        node = self.node(name)
        parent_dims = tuple(self.node(parent).state_dim for parent in node.parents)
        own = () if node.observed else (node.state_dim,)
        return (*own, *parent_dims, node.state_dim)

    def to_mapping(self) -> dict:
        """The graph in the seeds' notation with every alpha explicit (round-trips)."""
        nodes = []
        for node in self.nodes:
            entry = {"name": node.name, "state_dim": node.state_dim}
            entry.update(parents=list(node.parents), alpha=node.alpha)
            if node.observed:
                entry["observed"] = True
            nodes.append(entry)
        return {"gssm": nodes}


def load_graph(path, alpha_X=None, alpha_Z=None) -> Graph:
    """Read a graph YAML (yaml.safe_load) and parse it; the path names the errors."""
    from latent_lab.config import load_yaml

    return parse_graph(load_yaml(path), alpha_X=alpha_X, alpha_Z=alpha_Z, source=str(Path(path)))


def parse_graph(spec: Mapping, alpha_X=None, alpha_Z=None, source: str = "graph") -> Graph:
    """Validate the seeds' notation. alpha_X / alpha_Z, when given, replace the mapping's
    defaults; a node's own `alpha` still wins over both (spec)."""
    if not isinstance(spec, Mapping):
        raise UserError(f"{source}: expected a mapping with a `gssm:` list of nodes")
    unknown = sorted(set(spec) - set(GRAPH_KEYS))
    if unknown:
        raise UserError(
            f"{source}: unknown key {unknown[0]!r}; a graph has only {', '.join(GRAPH_KEYS)}"
        )
    entries = spec.get("gssm")
    if not isinstance(entries, list) or not entries:
        raise UserError(
            f"{source}: `gssm` must be a non-empty list of nodes {{name, state_dim, parents}}}}"
        )
    defaults = {
        "alpha_X": spec.get("alpha_X") if alpha_X is None else alpha_X,
        "alpha_Z": spec.get("alpha_Z") if alpha_Z is None else alpha_Z,
    }
    raw_nodes = [_raw_node(entry, index, source) for index, entry in enumerate(entries)]
    observed = _observed_name(raw_nodes, source)
    nodes = tuple(_finish_node(raw, observed, defaults, source) for raw in raw_nodes)
    _check_parents(nodes, source)
    _check_kernel_sizes(nodes, source)
    latent_order = _topological_latents(nodes, source)
    return Graph(nodes=nodes, observed=observed, latent_order=latent_order)


def _raw_node(entry, index: int, source: str) -> dict:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise UserError(
            f"{source}: gssm entry {index} needs a string `name`, e.g. "
            "{name: Z1, state_dim: 4, parents: [X]}"
        )
    name = entry["name"]
    unknown = sorted(set(entry) - set(NODE_KEYS))
    if unknown:
        raise UserError(
            f"{source}: node {name!r}: unknown field {unknown[0]!r}; "
            f"a node has only {', '.join(NODE_KEYS)}"
        )
    state_dim = entry.get("state_dim")
    if isinstance(state_dim, float) and state_dim.is_integer():
        state_dim = int(state_dim)
    if not isinstance(state_dim, int) or isinstance(state_dim, bool) or state_dim < 1:
        raise UserError(
            f"{source}: node {name!r}: state_dim must be an integer >= 1, "
            f"got {entry.get('state_dim')!r}"
        )
    parents = entry.get("parents", [])
    if parents is None:
        parents = []
    if not isinstance(parents, list) or not all(isinstance(p, str) for p in parents):
        raise UserError(
            f"{source}: node {name!r}: parents must be a list of node names, got {parents!r}"
        )
    if len(set(parents)) != len(parents):
        raise UserError(
            f"{source}: node {name!r}: parents lists a node twice ({parents}); "
            "list each parent once"
        )
    observed = entry.get("observed", False)
    if not isinstance(observed, bool):
        raise UserError(f"{source}: node {name!r}: observed must be true or false")
    return {**entry, "state_dim": state_dim, "parents": tuple(parents), "observed": observed}


def _observed_name(raw_nodes: list[dict], source: str) -> str:
    names = [raw["name"] for raw in raw_nodes]
    for name in names:
        if names.count(name) > 1:
            raise UserError(
                f"{source}: node {name!r}: duplicate name; give every node its own name"
            )
    flagged = [raw["name"] for raw in raw_nodes if raw["observed"]]
    if len(flagged) > 1:
        raise UserError(
            f"{source}: nodes {flagged}: more than one has observed: true; mark "
            "exactly one node as observed"
        )
    if flagged:
        return flagged[0]
    if "X" in names:
        return "X"
    raise UserError(
        f"{source}: no observed node; name the observed node X or set observed: true on it"
    )


def _finish_node(raw: dict, observed: str, defaults: dict, source: str) -> Node:
    name = raw["name"]
    is_observed = name == observed
    default_key = "alpha_X" if is_observed else "alpha_Z"
    value = raw.get("alpha", defaults[default_key])
    field = "alpha" if "alpha" in raw else default_key
    if value is None:
        raise UserError(
            f"{source}: node {name!r}: no alpha; set `alpha` on the node or "
            f"{default_key} for the graph"
        )
    alpha = _positive_float(value, f"{source}: node {name!r}: {field}")
    return Node(name, raw["state_dim"], raw["parents"], alpha, is_observed)


def _positive_float(value, where: str) -> float:
    """A finite number > 0; YAML reads `1e-3` (no dot) as a string, so numeric strings count."""
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where} must be a number > 0, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise UserError(f"{where} must be a finite number > 0, got {value!r}")
    return number


def _check_parents(nodes: tuple[Node, ...], source: str) -> None:
    names = [node.name for node in nodes]
    for node in nodes:
        for parent in node.parents:
            if parent not in names:
                raise UserError(
                    f"{source}: node {node.name!r}: parents names unknown node "
                    f"{parent!r}; use one of {', '.join(names)}"
                )
        if node.observed and node.name in node.parents:
            raise UserError(
                f"{source}: node {node.name!r}: the observed node cannot be its own "
                "parent; remove it from its parents"
            )


def _check_kernel_sizes(nodes: tuple[Node, ...], source: str) -> None:
    """Python integers: 16**20 rows is no overflow here, as it is for numpy's shapes."""
    dims = {node.name: node.state_dim for node in nodes}
    for node in nodes:
        rows = math.prod(dims[parent] for parent in node.parents)
        entries = rows * node.state_dim * (1 if node.observed else node.state_dim)
        if entries > MAX_KERNEL_ENTRIES:
            raise UserError(
                f"{source}: node {node.name!r}: its kernel would hold {entries:.3g} "
                f"probabilities ({rows:.3g} joint states of its {len(node.parents)} parents), "
                f"more than {MAX_KERNEL_ENTRIES:,}; give it fewer or smaller parents"
            )


def _topological_latents(nodes: tuple[Node, ...], source: str) -> tuple[str, ...]:
    """Kahn's algorithm over latent -> latent edges, ties broken by config order."""
    latents = [node for node in nodes if not node.observed]
    latent_names = {node.name for node in latents}
    pending = {node.name: [p for p in node.parents if p in latent_names] for node in latents}
    order: list[str] = []
    while pending:
        ready = next((name for name, parents in pending.items() if not parents), None)
        if ready is None:
            cycle = _find_cycle(pending)
            raise UserError(
                f"{source}: node {cycle[0]!r}: latent parents form a cycle "
                f"{' -> '.join(cycle)}; remove one of these parent links"
            )
        order.append(ready)
        del pending[ready]
        for parents in pending.values():
            if ready in parents:
                parents.remove(ready)
    return tuple(order)


def _find_cycle(pending: dict[str, list[str]]) -> list[str]:
    """Every remaining node has a remaining parent, so walking parents must revisit a node."""
    path = [next(iter(pending))]
    while path[-1] not in path[:-1]:
        path.append(pending[path[-1]][0])
    start = path.index(path[-1])
    return list(reversed(path[start:]))
