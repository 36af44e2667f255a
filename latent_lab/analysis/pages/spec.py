"""A results page's spec, docs/results/<topic>.yaml (safe YAML), checked in full before any work
so that a typo is one line naming the field. Layout (every key is documented in README.md):

    title, question, scale: text (prose only; every number on the page comes from the CSVs)
    commands: [the exact shell commands: launch lines, then collect and page]
    derived: {name: regex}   optional: a per-run metric, the mean of the metrics matching regex
    grids:                   one section of the page per grid
      - name, title, grid (the grid YAML), runs (its output folder)
        arm: the field that tells arms apart (config_name, learning_rate, type, ...)
        pair_by: the field pairing runs across arms (default seed)
        arms: {value: label}             in page order
        metrics: [{name, better: lower|higher|neither, label, excess_of}]
        exact: [reference keys]          exact quantities tabulated per arm
        compare: [{a, b, metric}]        paired by pair_by
        within: [{a, b}]                 two metrics of the same run, per arm and over all
        against: [{metric, value: baseline|reference|NUMBER}]
        figures: [names in FIGURES], curve_splits: [splits], slices: [{name, bins, measure}]
        probe_command: text shown when the runs have no probes.json yet
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.errors import UserError

FIGURES = (
    "excess_over_training",
    "loss_over_training",
    "accuracy_over_training",
    "excess_by_position",
    "by_slice",
    "slice_over_training",
    "comparisons",
)
BETTER = ("lower", "higher", "neither")
MEASURES = ("excess", "accuracy")
AGAINST = ("baseline", "reference")
REFERENCE_PREFIX = "reference."  # a compare metric naming an exact quantity: reference.<key>
TOP_KEYS = ("title", "question", "scale", "commands", "grids", "derived")
GRID_REQUIRED = ("name", "grid", "runs", "arm", "arms", "metrics")
GRID_OPTIONAL = (
    "title",
    "pair_by",
    "exact",
    "compare",
    "within",
    "against",
    "figures",
    "curve_splits",
    "slices",
    "probe_command",
)


@dataclass(frozen=True)
class Metric:
    name: str
    better: str = "neither"
    label: str = ""
    excess_of: str | None = None  # the metric is this metric minus its exact optimum

    @property
    def title(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Slice:
    name: str  # the positions.parquet column without its slice_ prefix
    bins: tuple | None = None  # edges for a numeric slice (None: one group per value)
    measure: str = "excess"


@dataclass
class Grid:
    name: str
    grid: str
    runs: str
    arm: str
    arms: dict  # arm key (arm_key) -> label
    metrics: list
    title: str = ""
    pair_by: str = "seed"
    exact: list = field(default_factory=list)
    compare: list = field(default_factory=list)  # (a, b, metric)
    within: list = field(default_factory=list)  # (metric a, metric b)
    against: list = field(default_factory=list)  # (metric, "baseline" | "reference" | float)
    figures: list = field(default_factory=list)
    curve_splits: list = field(default_factory=lambda: ["validation"])
    slices: list = field(default_factory=list)
    probe_command: str = ""

    def metric(self, name: str) -> Metric:
        found = [m for m in self.metrics if m.name == name]
        if found:
            return found[0]
        return Metric(name=name, label=name.removeprefix(REFERENCE_PREFIX))


@dataclass
class Spec:
    path: Path
    title: str
    question: str
    scale: str
    commands: list
    grids: list
    derived: dict = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return self.path.stem

    @property
    def page_path(self) -> Path:
        return self.path.with_suffix(".md")

    @property
    def figures_dir(self) -> Path:
        return self.path.parent / self.topic

    @property
    def data_dir(self) -> Path:
        return self.path.parent / "data" / self.topic


def arm_key(value) -> str:
    """One spelling per arm value: YAML's 1.0e-3, the string "1e-3" and a run's 0.001 are the
    same arm ("0.001"); other values as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | float):
        return format(value, ".12g")
    try:
        return format(float(value), ".12g")
    except (TypeError, ValueError):
        return str(value)


def load_spec(path: str | os.PathLike) -> Spec:
    from latent_lab.config import load_yaml

    path = Path(path)
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        raise UserError(f"SPEC: {str(path)!r} is not a YAML file; give docs/results/<topic>.yaml")
    data = load_yaml(path)
    where = str(path)
    check_keys(data, TOP_KEYS, TOP_KEYS[:5], where)
    for key in ("title", "question", "scale"):
        text_field(data[key], f"{where}: {key}")
    commands = [text_field(c, f"{where}: commands") for c in listed(data, "commands", where)]
    derived = data.get("derived") or {}
    if not isinstance(derived, dict) or not all(isinstance(v, str) for v in derived.values()):
        raise UserError(f"{where}: derived: give a mapping of metric name to regex")
    grids = [
        parse_grid(g, f"{where}: grids[{i}]") for i, g in enumerate(listed(data, "grids", where))
    ]
    if not grids:
        raise UserError(f"{where}: grids: list at least one grid")
    names = [g.name for g in grids]
    if len(set(names)) < len(names):
        raise UserError(f"{where}: grids: names must be unique (got {names})")
    return Spec(path, data["title"], data["question"], data["scale"], commands, grids, derived)


def parse_grid(data, where: str) -> Grid:
    from latent_lab.analysis.pages.spec_parts import (
        check_arms_in_grid,
        parse_against,
        parse_compare,
        parse_metric,
        parse_slice,
        parse_within,
    )

    if not isinstance(data, dict):
        raise UserError(f"{where}: expected a mapping with {', '.join(GRID_REQUIRED)}")
    check_keys(data, GRID_REQUIRED + GRID_OPTIONAL, GRID_REQUIRED, where)
    arms = data["arms"]
    if not isinstance(arms, dict) or not arms:
        raise UserError(f"{where}: arms: give a mapping of arm value to label")
    grid = Grid(
        name=text_field(data["name"], f"{where}: name"),
        grid=text_field(data["grid"], f"{where}: grid"),
        runs=text_field(data["runs"], f"{where}: runs"),
        arm=text_field(data["arm"], f"{where}: arm"),
        arms={arm_key(value): str(label) for value, label in arms.items()},
        metrics=[parse_metric(m, f"{where}: metrics") for m in listed(data, "metrics", where)],
        title=str(data.get("title") or ""),
        pair_by=text_field(data.get("pair_by", "seed"), f"{where}: pair_by"),
        exact=[text_field(k, f"{where}: exact") for k in listed(data, "exact", where)],
        figures=[one_of(f, FIGURES, f"{where}: figures") for f in listed(data, "figures", where)],
        curve_splits=[str(s) for s in listed(data, "curve_splits", where)] or ["validation"],
        slices=[parse_slice(s, f"{where}: slices") for s in listed(data, "slices", where)],
        probe_command=str(data.get("probe_command") or ""),
    )
    bins = {}
    for spec in grid.slices:  # one collection per slice name: the same bins for every measure
        if bins.setdefault(spec.name, spec.bins) != spec.bins:
            raise UserError(f"{where}: slices: {spec.name!r} is listed with different bins; "
                            "give it the same bins each time")  # fmt: skip
    check_arms_in_grid(grid, where)  # before the comparisons: a misspelt arm is named first
    grid.compare = [
        parse_compare(c, grid, f"{where}: compare") for c in listed(data, "compare", where)
    ]
    grid.within = [parse_within(w, grid, f"{where}: within") for w in listed(data, "within", where)]
    grid.against = [
        parse_against(a, grid, f"{where}: against") for a in listed(data, "against", where)
    ]
    return grid


def check_keys(data: dict, allowed, required, where: str) -> None:
    for key in data:
        if key not in allowed:
            raise UserError(f"{where}: unknown key {key!r} (allowed: {', '.join(allowed)})")
    for key in required:
        if data.get(key) in (None, "", [], {}):
            raise UserError(f"{where}: {key!r} is required")


def listed(data: dict, key: str, where: str) -> list:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise UserError(f"{where}: {key}: expected a list")
    return value


def text_field(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: expected text")
    return value.strip()


def one_of(value, allowed, where: str) -> str:
    if value not in allowed:
        raise UserError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return value
