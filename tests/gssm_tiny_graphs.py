"""Tiny GSSM graphs shared by the GSSM tests: small enough for brute force, shaped to cover
latent parents, chains, and an emission without parents."""

from pathlib import Path

from latent_lab.tasks.gssm.model import parse_graph

GRAPHS = Path(__file__).resolve().parents[1] / "latent_lab" / "tasks" / "gssm" / "graphs"


def node(name, dim, parents=(), **extra):
    return {"name": name, "state_dim": dim, "parents": list(parents), **extra}


TINY_GRAPHS = {
    "single": [node("Z", 3, ["X"]), node("X", 3, ["Z"])],
    "chained": [node("A", 2, ["X"]), node("B", 3, ["A", "X"]), node("X", 3, ["B", "A"])],
    "latent_parents": [
        node("A", 2),
        node("B", 2, ["A"]),
        node("C", 2, ["B", "X"]),
        node("X", 4, ["C", "A"]),
    ],
    "emission_without_parents": [node("Z", 2, ["X"]), node("X", 3)],
}


def tiny(name, alpha_X=0.4, alpha_Z=0.6):
    return parse_graph({"gssm": TINY_GRAPHS[name]}, alpha_X=alpha_X, alpha_Z=alpha_Z)
