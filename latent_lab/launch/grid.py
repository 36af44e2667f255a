"""Grid YAML: a recipe, a base config, lists of values for config keys, and seeds, expanded into
one config file per task (`<output_dir>/tasks/<i>.yaml`) with a deterministic run name.

`grid.config` (instead of `config`) lists several base configs, e.g. one per dataset: each is
crossed with the other grid keys and the seeds, and names its runs (`parks-seed1`)."""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from latent_lab.config import config_name_of, load_yaml, recipes_dir, resolve_config
from latent_lab.errors import UserError
from latent_lab.files import write_text_atomic

RESULTS_FILE = "results.json"
GRID_FIELDS = ("recipe", "config", "grid", "seeds", "output_dir", "slurm")
# Keys the launcher sets for every task, so a grid or base config must not choose them.
LAUNCHER_KEYS = ("seed", "run_name", "output_dir", "config_name")
# TrlParser's YAML may carry an `env` mapping (environment variables) beside the fields.
CONFIG_EXTRA_KEYS = {"env"}


@dataclass
class GridSpec:
    """A parsed, validated grid YAML (paths absolute)."""

    source: Path
    recipe: str
    base_configs: list[tuple[Path, dict]]  # (config file, its keys), in the grid's order
    grid: dict[str, list]
    seeds: list[int]
    output_dir: Path
    slurm: dict = field(default_factory=dict)
    # The recipe has `resume` (every lab recipe): tasks continue from their last checkpoint
    # when run again (a requeued SLURM task, a local grid launched again).
    resumable: bool = False

    @property
    def tasks_dir(self) -> Path:
        return self.output_dir / "tasks"


@dataclass
class GridTask:
    """One (grid point, seed) pair: its config file and run folder."""

    index: int
    run_name: str
    values: dict
    seed: int
    config: dict
    config_file: Path
    run_dir: Path

    @property
    def finished(self) -> bool:
        return (self.run_dir / RESULTS_FILE).is_file()


def recipe_script(recipe: str) -> Path:
    return recipes_dir() / f"{recipe}.py"


def repository_root() -> Path:
    """The folder holding recipes/: tasks run from here so `recipes/<task>.py` resolves."""
    return recipes_dir().resolve().parent


def available_recipes() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.py") if not p.stem.startswith("_"))


def load_grid(path: str | os.PathLike) -> GridSpec:
    """Read and validate a grid YAML; every mistake is a one-line UserError naming the field."""
    source = Path(path)
    data = load_yaml(source)
    unknown = sorted(set(data) - set(GRID_FIELDS))
    if unknown:
        raise UserError(
            f"{source}: unknown field {unknown[0]!r}; a grid has {', '.join(GRID_FIELDS)}"
        )
    grid = _grid_values(source, data.get("grid"))
    configs = grid.pop("config", None)
    if configs is not None and data.get("config") not in (None, ""):
        raise UserError(f"{source}: give `config:` or a `grid.config` list, not both")
    for name in ("recipe", "seeds", "output_dir") + (("config",) if configs is None else ()):
        if data.get(name) in (None, ""):
            raise UserError(f"{source}: missing field {name!r}")
    recipe = _recipe_name(source, data["recipe"])
    parser = recipe_parser(recipe)
    # A bare name resolves where the recipe's own --config looks: recipes/configs/<recipe>/.
    paths = [resolve_config(recipe, str(value)).resolve() for value in configs or [data["config"]]]
    if len(set(paths)) != len(paths):
        raise UserError(f"{source}: grid.config names a config twice; list each once")
    spec = GridSpec(
        source=source,
        recipe=recipe,
        base_configs=[(path, load_yaml(path)) for path in paths],
        grid=grid,
        seeds=_seeds(source, data["seeds"]),
        output_dir=Path(str(data["output_dir"])).expanduser().resolve(),
        slurm=_slurm_section(source, data.get("slurm")),
    )
    known = set(parser.known_keys())
    check_keys_known(spec, known)
    spec.resumable = "resume" in known
    return spec


def recipe_parser(recipe: str):
    """The recipe's own parser, from the task that ships the recipe (the registry): its config
    keys and the folder its bare config names resolve in. No recipe module is imported."""
    from latent_lab.tasks.registry import load, recipe_parser_reference

    reference = recipe_parser_reference(recipe)
    if reference is None:
        raise UserError(
            f"recipes/{recipe}.py is not a recipe any task registers (Task.recipes in "
            "latent_lab/tasks/<task>/__init__.py); `latent-lab init task NAME` shows the layout"
        )
    return load(reference)()


def check_keys_known(spec: GridSpec, known: set[str]) -> None:
    fix = f"`python recipes/{spec.recipe}.py --help` lists fields"
    for key in spec.grid:
        if key in LAUNCHER_KEYS:
            raise UserError(
                f"{spec.source}: grid key {key!r} is set by the launcher "
                "(list seeds under `seeds:`, the folder under `output_dir:`); remove it"
            )
        if key not in known:
            raise UserError(
                f"{spec.source}: grid key {key!r} is not a field of recipes/{spec.recipe}.py; "
                f"fix the spelling ({fix})"
            )
    for config_path, base_config in spec.base_configs:
        unknown = sorted(set(base_config) - known - CONFIG_EXTRA_KEYS)
        if unknown:
            raise UserError(
                f"{config_path}: unknown key {unknown[0]!r} (not a field of "
                f"recipes/{spec.recipe}.py; {fix})"
            )


def expand_grid(spec: GridSpec) -> list[GridTask]:
    """The base configs (outermost) times the Cartesian product of the grid values (keys in YAML
    order) times the seeds (innermost), numbered from 0."""
    keys = list(spec.grid)
    labels = key_labels(keys)
    several = len(spec.base_configs) > 1
    tasks: list[GridTask] = []
    for (config_path, base_config), combination in itertools.product(
        spec.base_configs, itertools.product(*(spec.grid[key] for key in keys))
    ):
        values = dict(zip(keys, combination, strict=True))
        base_name = config_name_of(config_path)
        # Runs that differ only by seed share config_name (aggregate groups by it) and W&B group.
        point = "-".join(f"{labels[key]}{format_value(v)}" for key, v in values.items())
        config_name = f"{base_name}/{point}" if point else base_name
        for seed in spec.seeds:
            name = run_name_for(values, seed, labels)
            if several:  # the config's name first: parks-seed1, parks-lr1e-3-seed1
                name = f"{format_value(base_name)}-{name}"
            run_dir = spec.output_dir / "runs" / name
            config = {**base_config, **values}
            config.update(seed=seed, run_name=name, output_dir=str(run_dir))
            config["config_name"] = config_name
            config.setdefault("wandb_group", f"{spec.output_dir.name}/{config_name}")
            if spec.resumable:
                config.setdefault("resume", True)  # no checkpoint yet: a clean start
            task_file = spec.tasks_dir / f"{len(tasks)}.yaml"
            tasks.append(GridTask(len(tasks), name, values, seed, config, task_file, run_dir))
    _check_unique_names(spec, tasks)
    return tasks


def write_task_configs(tasks: list[GridTask]) -> None:
    """One YAML per task, each written atomically (a reader never sees half a file)."""
    for task in tasks:
        header = f"# Task {task.index} of a latent-lab grid: {task.run_name}\n"
        body = yaml.safe_dump(task.config, sort_keys=False, default_flow_style=False)
        write_text_atomic(task.config_file, header + body)


def key_labels(keys: list[str]) -> dict[str, str]:
    """Short labels for run names: the initials of a key's words (learning_rate -> lr), or the
    whole key when two grid keys share initials."""
    initials = {key: "".join(word[:1] for word in key.split("_") if word) or key for key in keys}
    counts = {label: list(initials.values()).count(label) for label in initials.values()}
    return {key: label if counts[label] == 1 else key for key, label in initials.items()}


def run_name_for(values: dict, seed: int, labels: dict[str, str] | None = None) -> str:
    """A deterministic run name from the grid values and the seed, e.g. `lr1e-3-seed2`."""
    labels = labels or key_labels(list(values))
    parts = [f"{labels[key]}{format_value(value)}" for key, value in values.items()]
    return "-".join([*parts, f"seed{seed}"])


def format_value(value) -> str:
    """A value as a short, path-safe token: 0.001 -> 1e-3, 64 -> 64, True -> true."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = _format_float(value)
    elif isinstance(value, (int, str)):
        text = str(value)
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_") or "_"


def _format_float(value: float) -> str:
    if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e5):
        mantissa, exponent = f"{value:.6e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.6g}"


def _recipe_name(source: Path, value) -> str:
    recipe = str(value)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", recipe) or not recipe_script(recipe).is_file():
        raise UserError(
            f"{source}: recipe {recipe!r} is not a script in recipes/ "
            f"(available: {', '.join(available_recipes()) or 'none'})"
        )
    return recipe


def _grid_values(source: Path, grid) -> dict[str, list]:
    if grid is None:
        return {}
    if not isinstance(grid, dict):
        raise UserError(f"{source}: grid must map config keys to lists of values")
    for key, values in grid.items():
        if not isinstance(values, list):
            raise UserError(f"{source}: grid.{key} must be a list of values, e.g. [{values!r}]")
        if not values:
            raise UserError(f"{source}: grid.{key} is an empty list; give at least one value")
    return {str(key): list(values) for key, values in grid.items()}


def _seeds(source: Path, seeds) -> list[int]:
    if not isinstance(seeds, list) or not seeds:
        raise UserError(f"{source}: seeds must be a non-empty list of integers, e.g. [1, 2, 3]")
    if not all(isinstance(seed, int) and not isinstance(seed, bool) for seed in seeds):
        raise UserError(f"{source}: seeds must be integers, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise UserError(f"{source}: seeds repeat a value ({seeds}); list each seed once")
    return list(seeds)


def _slurm_section(source: Path, slurm) -> dict:
    if slurm is None:
        return {}
    if not isinstance(slurm, dict):
        raise UserError(f"{source}: slurm must be a mapping such as {{partition: gpu}}")
    return dict(slurm)


def _check_unique_names(spec: GridSpec, tasks: list[GridTask]) -> None:
    seen: dict[str, GridTask] = {}
    for task in tasks:
        if task.run_name in seen:
            raise UserError(
                f"{spec.source}: grid values {seen[task.run_name].values} and {task.values} "
                f"give the same run name {task.run_name!r}; make the values distinct"
            )
        seen[task.run_name] = task
