"""The entries of a results spec's grid (metrics, slices, comparisons) and the check that each
arm the spec names is a value the grid YAML actually runs: a misspelt arm would otherwise be a
silently empty row."""

from __future__ import annotations

from pathlib import Path

from latent_lab.analysis.pages.spec import (
    AGAINST,
    BETTER,
    MEASURES,
    REFERENCE_PREFIX,
    Metric,
    Slice,
    arm_key,
    check_keys,
    one_of,
    text_field,
)
from latent_lab.errors import UserError


def parse_metric(data, where: str) -> Metric:
    if isinstance(data, str):
        return Metric(name=data)
    if not isinstance(data, dict):
        raise UserError(f"{where}: give a metric name or {{name, better, label, excess_of}}")
    check_keys(data, ("name", "better", "label", "excess_of"), ("name",), where)
    return Metric(
        name=text_field(data["name"], f"{where}: name"),
        better=one_of(data.get("better", "neither"), BETTER, f"{where}: better"),
        label=str(data.get("label") or ""),
        excess_of=data.get("excess_of"),
    )


def parse_slice(data, where: str) -> Slice:
    if isinstance(data, str):
        return Slice(name=data.removeprefix("slice_"))
    if not isinstance(data, dict):
        raise UserError(f"{where}: give a slice name or {{name, bins, measure}}")
    check_keys(data, ("name", "bins", "measure"), ("name",), where)
    bins = data.get("bins")
    if bins is not None:
        ok = (
            isinstance(bins, list)
            and len(bins) >= 2
            and all(isinstance(b, int | float) for b in bins)
        )
        if not ok or sorted(bins) != bins:
            raise UserError(f"{where}: bins: give increasing numbers (the bin edges)")
        bins = tuple(float(b) for b in bins)
    measure = one_of(data.get("measure", "excess"), MEASURES, f"{where}: measure")
    return Slice(name=str(data["name"]).removeprefix("slice_"), bins=bins, measure=measure)


def known_metric(grid, name, where: str, exact_too: bool = False) -> str:
    names = [m.name for m in grid.metrics]
    if exact_too:
        names += [REFERENCE_PREFIX + key for key in grid.exact]
    if name not in names:
        raise UserError(
            f"{where}: metric {name!r} is not in this grid's metrics (listed: {', '.join(names)})"
        )
    return name


def known_arm(grid, value, where: str) -> str:
    key = arm_key(value)
    if key not in grid.arms:
        raise UserError(
            f"{where}: arm {value!r} is not in this grid's arms ({', '.join(grid.arms)})"
        )
    return key


def parse_compare(data, grid, where: str) -> tuple:
    if not isinstance(data, dict):
        raise UserError(f"{where}: give {{a, b, metric}}")
    check_keys(data, ("a", "b", "metric"), ("a", "b", "metric"), where)
    a, b = known_arm(grid, data["a"], where), known_arm(grid, data["b"], where)
    if a == b:
        raise UserError(f"{where}: a and b are the same arm ({a})")
    return a, b, known_metric(grid, data["metric"], where, exact_too=True)


def parse_within(data, grid, where: str) -> tuple:
    if not isinstance(data, dict):
        raise UserError(f"{where}: give {{a, b}}: two metrics of the same run")
    check_keys(data, ("a", "b"), ("a", "b"), where)
    return known_metric(grid, data["a"], where), known_metric(grid, data["b"], where)


def parse_against(data, grid, where: str) -> tuple:
    if not isinstance(data, dict):
        raise UserError(f"{where}: give {{metric, value}}")
    check_keys(data, ("metric", "value"), ("metric",), where)
    value = data.get("value", "baseline")
    if not (value in AGAINST or isinstance(value, int | float) and not isinstance(value, bool)):
        raise UserError(f"{where}: value: give baseline, reference or a number")
    return known_metric(grid, data["metric"], where), value


def grid_values(grid_file: Path, field_name: str) -> list | None:
    """The values the grid YAML runs for a field (None when the grid does not set it)."""
    from latent_lab.config import load_yaml

    data = load_yaml(grid_file)
    axes = data.get("grid") or {}
    if field_name in axes:
        return list(axes[field_name])
    if field_name == "config_name":  # runs record their config as config_name
        values = axes.get("config", data.get("config"))
        return None if values is None else values if isinstance(values, list) else [values]
    return [data[field_name]] if field_name in data else None


def check_arms_in_grid(grid, where: str) -> None:
    path = Path(grid.grid)
    if not path.is_file():
        raise UserError(f"{where}: grid: {grid.grid!r} is not a file; give the grid YAML")
    values = grid_values(path, grid.arm)
    if values is None:
        return  # an arm field the grid does not set (e.g. model_type): the runs tell
    keys = {arm_key(value) for value in values}
    for arm in grid.arms:
        if arm not in keys:
            raise UserError(
                f"{where}: arms: {arm!r} is not a value of {grid.arm} in "
                f"{grid.grid} (its values: {', '.join(sorted(keys))})"
            )
