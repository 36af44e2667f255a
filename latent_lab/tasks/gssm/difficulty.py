"""How hard is a GSSM graph at given alphas? The two measures of docs/spec/gssm.md ("Difficulty"),
averaged over graph seeds, on an alpha_X x alpha_Z log grid, and equivalent pairs solved
with a root finder.

    settings = DifficultySettings(graphs=(("experiment1", spec),), reference=(1e-3, 0.142))
    records = measure_cells(grid_cells(settings), settings)      # one dict per grid cell
    pairs = solve_pairs(settings)     # small alpha_X + solved alpha_Z, and the reverse

Common random numbers: a measure is a function of alpha that brentq can solve only if the
randomness does not change with alpha. Kernels are therefore drawn by inverse CDF from
uniforms fixed by the graph seed alone (exact Dirichlet(alpha) rows, as in make_kernels, but
continuous in alpha), and tokens by inverse CDF from uniforms fixed by the data seed
(reference_sample). Re-drawing with make_kernels at every alpha would give a new random
graph per evaluation, and brentq would solve the noise. These kernels are not the ones a
training run gets for the same graph_seed: the measure describes the graph and alphas,
averaged over seeds, not one seed's kernels (the training runs report their own exact
bayes_loss).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammaincinv

from latent_lab.errors import UserError
from latent_lab.tasks.gssm.difficulty_shards import (  # noqa: F401  the module's API
    merge_shards,
    parse_shard,
    read_jsonl,
    shard_of,
    shard_path,
    write_jsonl,
)
from latent_lab.tasks.gssm.model import (
    KERNEL_FLOOR,
    bayes_entropy_rate,
    bayes_filter,
    compression_rate,
    parse_graph,
    reference_sample,
)

MEASURES = ("bayes_entropy_rate", "compression_rate")
KERNEL_TAG = 0xD1FF  # keeps the difficulty kernels' uniforms apart from other streams
TOKEN_TAG = 0x70C3
XTOL = 1e-3  # root tolerance in ln(alpha): 0.1% of alpha
JSONL_NAME = "difficulty.jsonl"


@dataclass(frozen=True)
class DifficultySettings:
    """What the difficulty tool measures. graphs: (name, graph mapping in the seeds'
    notation); grid: (min alpha, max alpha, points), the log grid of both axes and the root
    finder's bracket; target or reference (alpha_X, alpha_Z): the difficulty to match."""

    graphs: tuple[tuple[str, dict], ...]
    grid: tuple[float, float, int] = (1e-3, 1.0, 9)
    graph_seeds: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    num_sequences: int = 48
    seq_len: int = 512
    data_seed: int = 0
    measure: str = "bayes_entropy_rate"
    target: float | None = None
    reference: tuple[float, float] | None = None
    small_alpha: float = 1e-3
    # Solved pairs: add graph seeds (doubling, up to max_graph_seeds) until the standard error
    # across graph seeds of every solved value and of the target is at most `tolerance`.
    tolerance: float = 0.005
    max_graph_seeds: int = 48

    def __post_init__(self):
        low, high, points = self.grid
        if not (0 < low < high and math.isfinite(high)) or int(points) != points or points < 2:
            raise UserError(f"grid: expected MIN,MAX,POINTS with 0 < MIN < MAX and POINTS >= 2, "
                            f"got {self.grid}")  # fmt: skip
        if not self.graph_seeds or any(s < 0 for s in self.graph_seeds):
            raise UserError("graph_seeds: give a count (e.g. 6) or a list of seeds >= 0")
        for name in ("num_sequences", "seq_len"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if not self.tolerance > 0:
            raise UserError(f"tolerance: must be > 0, got {self.tolerance}")
        if self.max_graph_seeds < len(self.graph_seeds):
            raise UserError("max_graph_seeds: must be >= the number of graph_seeds")
        if self.measure not in MEASURES:
            raise UserError(f"measure: {self.measure!r} is not one of {', '.join(MEASURES)}")
        if self.target is not None and self.reference is not None:
            raise UserError("target / reference: give one of them, not both")
        alphas = (self.small_alpha, *(self.reference or ()))
        if any(not (alpha > 0 and math.isfinite(alpha)) for alpha in alphas):
            raise UserError("small_alpha / reference: alphas must be finite numbers > 0")
        for name, spec in self.graphs:
            parse_graph(spec, 1.0, 1.0, source=name)  # a graph error names its node

    def alpha_values(self) -> list[float]:
        low, high, points = self.grid
        return [float(a) for a in np.geomspace(low, high, int(points))]

    def sizes(self) -> dict:
        return {"graph_seeds": list(self.graph_seeds), "num_sequences": self.num_sequences,
                "seq_len": self.seq_len, "data_seed": self.data_seed}  # fmt: skip


def free_axes(spec: dict, name: str) -> tuple[bool, bool]:
    """Does alpha_X (alpha_Z) change the graph? Not where nodes carry their own alpha."""
    one, two = parse_graph(spec, 1.0, 1.0, name), parse_graph(spec, 2.0, 2.0, name)
    x_free = one.node(one.observed).alpha != two.node(two.observed).alpha
    pairs = zip(one.nodes, two.nodes, strict=True)
    z_free = any(a.alpha != b.alpha for a, b in pairs if not a.observed)
    return x_free, z_free


def coupled_kernels(graph, graph_seed: int) -> dict[str, np.ndarray]:
    """Dirichlet(alpha) rows from uniforms fixed by the seed alone (continuous in alpha):
    Gamma(a) = Gamma(a + 1) * U**(1/a) with Gamma(a + 1) by inverse CDF, in log space as in
    make_kernels so tiny alphas do not underflow."""
    rng = np.random.default_rng([KERNEL_TAG, graph_seed])
    kernels = {}
    for node in graph.nodes:
        shape = graph.kernel_shape(node.name)
        gamma_uniform = np.clip(rng.random(shape), 1e-300, None)
        power_uniform = rng.random(shape)
        log_gamma = np.log(gammaincinv(node.alpha + 1.0, gamma_uniform))
        log_gamma += np.log1p(-power_uniform) / node.alpha
        rows = np.exp(log_gamma - log_gamma.max(axis=-1, keepdims=True))
        rows /= rows.sum(axis=-1, keepdims=True)
        rows[rows < KERNEL_FLOOR] = 0.0
        kernels[node.name] = rows / rows.sum(axis=-1, keepdims=True)
    return kernels


def measure_seed(graph, graph_seed: int, settings: DifficultySettings) -> dict[str, float]:
    """Both measures for one graph seed on its fixed-randomness tokens."""
    kernels = coupled_kernels(graph, graph_seed)
    rng = np.random.default_rng([TOKEN_TAG, settings.data_seed, graph_seed])
    tokens = reference_sample(graph, kernels, settings.num_sequences, settings.seq_len, rng)
    bayes_loss = bayes_filter(graph, kernels, tokens).bayes_loss
    return {
        "compression_rate": compression_rate(tokens, graph.vocab_size),
        "bayes_entropy_rate": bayes_entropy_rate(bayes_loss, graph.vocab_size),
    }


def measure_pair(name: str, spec: dict, alpha_X, alpha_Z, settings) -> dict:
    """One record: both measures averaged over the graph seeds, per-seed values, sizes."""
    graph = parse_graph(spec, alpha_X, alpha_Z, source=name)
    per_seed = [measure_seed(graph, seed, settings) for seed in settings.graph_seeds]
    record = {"graph": name, "alpha_X": alpha_X, "alpha_Z": alpha_Z}
    for measure in MEASURES:
        values = [values[measure] for values in per_seed]
        record[measure] = float(np.mean(values))
        record[f"{measure}_per_seed"] = values
        # the mean's standard error across graph seeds (kernels vary a lot between seeds)
        spread = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
        record[f"{measure}_se"] = spread / math.sqrt(len(values))
    record.update(settings.sizes(), vocab_size=graph.vocab_size)
    return record


def axis_values(spec: dict, name: str, settings) -> tuple[list, list]:
    """The alpha_X and alpha_Z values of a graph's cells: the grid on a free axis; on a fixed
    one, the observed node's own alpha (alpha_X) or None (latents keep their own alphas)."""
    x_free, z_free = free_axes(spec, name)
    graph = parse_graph(spec, 1.0, 1.0, name)
    x_values = settings.alpha_values() if x_free else [graph.node(graph.observed).alpha]
    return x_values, settings.alpha_values() if z_free else [None]


def grid_cells(settings: DifficultySettings) -> list[dict]:
    """Every (graph, alpha_X, alpha_Z) cell, numbered in order (graphs, then alpha_X, alpha_Z)."""
    cells = []
    for name, spec in settings.graphs:
        x_values, z_values = axis_values(spec, name, settings)
        for alpha_X in x_values:
            for alpha_Z in z_values:
                cells.append({"graph": name, "alpha_X": alpha_X, "alpha_Z": alpha_Z})
    for index, cell in enumerate(cells):
        cell.update(cell=index, num_cells=len(cells))
    return cells


def measure_cells(cells: list[dict], settings: DifficultySettings, progress=None) -> list[dict]:
    specs = dict(settings.graphs)
    records = []
    for cell in cells:
        record = measure_pair(cell["graph"], specs[cell["graph"]], cell["alpha_X"],
                              cell["alpha_Z"], settings)  # fmt: skip
        records.append({"cell": cell["cell"], "num_cells": cell["num_cells"], **record})
        if progress is not None:
            progress.update(1)
    return records


def check_records_match(records: list[dict], settings: DifficultySettings) -> None:
    """Merged records must come from these settings before pairs are solved beside them."""
    expected = grid_cells(settings)
    keys = ("graph", "alpha_X", "alpha_Z")
    same_cells = [tuple(r[k] for k in keys) for r in records] == [
        tuple(c[k] for k in keys) for c in expected
    ]
    same_sizes = all({k: r[k] for k in settings.sizes()} == settings.sizes() for r in records)
    if not (same_cells and same_sizes):
        raise UserError("--merge: the shards were run with other settings than --config "
                        "(graphs, grid or sizes differ); merge with the same settings")  # fmt: skip


def pair_jobs(settings: DifficultySettings) -> list[dict]:
    """What to solve per graph: with both axes free, small alpha_X + solved alpha_Z and small
    alpha_Z + solved alpha_X; with one axis fixed by node alphas, the free axis alone."""
    jobs = []
    for name, spec in settings.graphs:
        x_free, z_free = free_axes(spec, name)
        x_values, _ = axis_values(spec, name, settings)
        small = settings.small_alpha
        if x_free and z_free:
            jobs.append(dict(graph=name, kind="small_alpha_X", alpha_X=small, solve="alpha_Z"))
            jobs.append(dict(graph=name, kind="small_alpha_Z", alpha_Z=small, solve="alpha_X"))
        elif z_free:
            jobs.append(dict(graph=name, kind="alpha_Z", alpha_X=x_values[0], solve="alpha_Z"))
        elif x_free:
            jobs.append(dict(graph=name, kind="alpha_X", alpha_Z=None, solve="alpha_X"))
    return jobs


def target_for(name: str, spec: dict, settings: DifficultySettings) -> tuple[float, float]:
    """(target, its standard error across graph seeds: None for a given number)."""
    if settings.target is not None:
        return settings.target, None
    alpha_X, alpha_Z = settings.reference
    record = measure_pair(name, spec, alpha_X, alpha_Z, settings)
    return record[settings.measure], record[f"{settings.measure}_se"]


def solve_pairs(settings: DifficultySettings, progress=None) -> list[dict]:
    """Equivalent pairs by brentq on the measure as a function of ln(alpha), every value
    evaluated exactly (same graph seeds and data), bracketed by the grid's range. Graph seeds
    are added (doubling) until every solved value's and the target's standard error across
    graph seeds is at most settings.tolerance, or max_graph_seeds are used: a pair that is
    equal on six graphs need not be equal on the next (docs/results/infer_vs_predict.md)."""
    if settings.target is None and settings.reference is None:
        return []
    seeds = list(settings.graph_seeds)
    while True:
        current = dataclasses.replace(settings, graph_seeds=tuple(seeds))
        pairs = solve_with_seeds(current, progress)
        worst = max((largest_se(pair, settings.measure) for pair in pairs), default=0.0)
        if worst <= settings.tolerance or len(seeds) >= settings.max_graph_seeds:
            break
        more = min(len(seeds), settings.max_graph_seeds - len(seeds))
        seeds += [max(seeds) + 1 + k for k in range(more)]
    for pair in pairs:
        pair["tolerance"] = settings.tolerance
        pair["tolerance_met"] = largest_se(pair, settings.measure) <= settings.tolerance
    return pairs


def largest_se(pair: dict, measure: str) -> float:
    """The larger standard error of a pair's solved value and of its target (0 if unknown)."""
    values = [pair.get(f"{measure}_se"), pair.get("target_se")]
    values = [v for v in values if v is not None and math.isfinite(v)]
    return max(values, default=0.0)


def solve_with_seeds(settings: DifficultySettings, progress=None) -> list[dict]:
    specs = dict(settings.graphs)
    targets, pairs = {}, []
    for job in pair_jobs(settings):
        name = job["graph"]
        if name not in targets:
            targets[name] = target_for(name, specs[name], settings)
        target, target_se = targets[name]
        pair = solve_job(job, specs[name], target, settings, progress)
        pairs.append({**pair, "target_se": target_se})
    return pairs


def solve_job(job: dict, spec: dict, target: float, settings, progress=None) -> dict:
    cache: dict[float, dict] = {}

    def evaluate(log_alpha: float) -> float:
        if log_alpha not in cache:
            alphas = {"alpha_X": job.get("alpha_X"), "alpha_Z": job.get("alpha_Z")}
            alphas[job["solve"]] = math.exp(log_alpha)
            cache[log_alpha] = measure_pair(job["graph"], spec, **alphas, settings=settings)
            if progress is not None:
                progress.update(1)
        return cache[log_alpha][settings.measure] - target

    low, high = math.log(settings.grid[0]), math.log(settings.grid[1])
    ends = evaluate(low), evaluate(high)
    summary = {**{k: v for k, v in job.items() if k != "solve"}, "solved_for": job["solve"],
               "measure": settings.measure, "target": target}  # fmt: skip
    if ends[0] * ends[1] > 0:
        reached = sorted(e + target for e in ends)
        return {**summary, "found": False, "reason": f"{settings.measure} spans "
                f"{reached[0]:.4f}..{reached[1]:.4f} over {job['solve']} in "
                f"{settings.grid[0]:g}..{settings.grid[1]:g}; widen --grid or change the "
                "target"}  # fmt: skip
    if ends[0] * ends[1] < 0:
        root = brentq(evaluate, low, high, xtol=XTOL)
    else:  # an end of the bracket hits the target exactly
        root = low if ends[0] == 0 else high
    evaluate(root)  # usually cached: brentq returns a point it evaluated
    return {**summary, **cache[root], "found": True, "evaluations": len(cache)}
