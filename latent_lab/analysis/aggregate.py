"""Aggregate many runs: read every results.json under some folders, group them by results or
config fields, and summarize each metric (n, mean, sample std, Student-t 95% CI, min, max)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.analysis.bounds import clip_interval, metric_bounds
from latent_lab.analysis.run_files import RESULTS_FILE, RunFolder, _read_json
from latent_lab.errors import UserError

DEFAULT_GROUP_FIELDS = ("config_name",)
STAT_FIELDS = ("n", "mean", "std", "ci95_low", "ci95_high", "min", "max")
CONFIDENCE = 0.95


@dataclass
class GroupSummary:
    """Runs sharing the same values of the grouping fields, with each metric's values."""

    key: dict
    runs: list[RunFolder] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    references: dict[str, list[float]] = field(default_factory=dict)

    def stats(self, metric: str) -> dict:
        summary = summarize(self.values.get(metric, []), metric_bounds(metric))
        refs = self.references.get(metric) or []
        summary["reference"] = sum(refs) / len(refs) if refs else None
        return summary


@dataclass
class Aggregate:
    by: list[str]
    metrics: list[str]
    groups: list[GroupSummary]
    missing: list[dict]

    def to_json(self) -> dict:
        return {
            "by": self.by,
            "groups": [
                {
                    "key": group.key,
                    "runs": [str(run.folder) for run in group.runs],
                    "metrics": {metric: group.stats(metric) for metric in self.metrics},
                }
                for group in self.groups
            ],
            "missing": self.missing,
        }


def summarize(values: list[float], bounds=None) -> dict:
    """n, mean, sample std (ddof=1) and the Student-t 95% CI of the mean, clipped to the
    metric's range (`bounds`, e.g. [0, 1] for an accuracy: analysis/bounds.py); std and CI are
    None for one value (a spread cannot be estimated), everything but n is None for none."""
    import numpy as np
    from scipy import stats

    n = len(values)
    if n == 0:
        return {"n": 0, **{name: None for name in STAT_FIELDS[1:]}}
    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    std = low = high = None
    if n > 1:
        std = float(array.std(ddof=1))
        half_width = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * std / math.sqrt(n)
        low, high = mean - half_width, mean + half_width
        if bounds is not None:
            low, high = clip_interval(low, high, bounds, values)
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "ci95_low": low,
        "ci95_high": high,
        "min": float(array.min()),
        "max": float(array.max()),
    }


def find_results(folders) -> list[Path]:
    """Every results.json under the folders (recursively), sorted; none at all is a user error."""
    found: set[Path] = set()
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder; pass folders holding finished runs")
        found.update(path for path in folder.rglob(RESULTS_FILE) if path.is_file())
    if not found:
        names = ", ".join(str(folder) for folder in folders)
        raise UserError(
            f"no {RESULTS_FILE} under {names}; pass the output folders of finished runs"
        )
    return sorted(found)


def load_results(folders) -> list[RunFolder]:
    runs = []
    for path in find_results(folders):
        results = _read_json(path)
        if not isinstance(results, dict):
            raise UserError(f"{path}: expected a JSON object; re-run that training")
        runs.append(RunFolder(folder=path.parent, results=results))
    return runs


def field_value(results: dict, name: str):
    """A grouping field: a top-level results.json key (config_name, model_type, task, seed...)
    or else a config key (results["config"]); None when the run has neither."""
    if name in results and not isinstance(results[name], dict):
        value = results[name]
    else:
        value = (results.get("config") or {}).get(name)
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)  # hashable, still readable
    return value


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def choose_metrics(runs: list[RunFolder], requested: list[str] | None) -> list[str]:
    """Every numeric metric of any run (default), or the requested ones, which must exist."""
    available = sorted(
        {name for run in runs for name, value in run.metrics.items() if is_number(value)}
    )
    if not requested:
        return available
    for name in requested:
        if not any(name in run.metrics for run in runs):
            raise UserError(
                f"--metric {name}: no run has this metric (available: "
                f"{', '.join(available) or 'none'})"
            )
    return list(dict.fromkeys(requested))


def check_group_fields(runs: list[RunFolder], by: list[str]) -> None:
    for name in by:
        if all(field_value(run.results, name) is None for run in runs):
            raise UserError(
                f"--by {name}: no run has {name!r} in results.json or its config; try "
                "config_name, model_type, task, seed or a config key such as learning_rate"
            )


def aggregate_runs(runs: list[RunFolder], by=None, metrics=None) -> Aggregate:
    """Group runs by the `by` fields and collect each metric's values; runs lacking a metric
    (or holding a non-finite value) are listed in `missing`, never dropped silently."""
    by = list(by or DEFAULT_GROUP_FIELDS)
    check_group_fields(runs, by)
    names = choose_metrics(runs, metrics)
    groups: dict[tuple, GroupSummary] = {}
    missing: list[dict] = []
    for run in runs:
        key = {name: field_value(run.results, name) for name in by}
        group = groups.setdefault(tuple(key.values()), GroupSummary(key=key))
        group.runs.append(run)
        for metric in names:
            value = run.metrics.get(metric)
            if not is_number(value):
                reason = "absent" if value is None else f"not a finite number ({value!r})"
                missing.append({"run": str(run.folder), "metric": metric, "reason": reason})
                continue
            group.values.setdefault(metric, []).append(float(value))
            reference = run.reference(metric)
            if reference is not None and is_number(reference[1]):
                group.references.setdefault(metric, []).append(float(reference[1]))
    ordered = sorted(groups.values(), key=lambda group: _sort_key(group.key.values()))
    return Aggregate(by=by, metrics=names, groups=ordered, missing=missing)


def _sort_key(values) -> tuple:
    # Numbers in numeric order, then strings, then runs without the field.
    return tuple(
        (0, value, "") if is_number(value) else (2, 0, "") if value is None else (1, 0, str(value))
        for value in values
    )


def format_number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def table_rows(aggregate: Aggregate) -> list[dict]:
    """One row per (group, metric), with the statistics and the exact reference."""
    return [
        {**group.key, "metric": metric, **group.stats(metric)}
        for group in aggregate.groups
        for metric in aggregate.metrics
    ]


def markdown_table(aggregate: Aggregate) -> str:
    header = [*aggregate.by, "metric", "n", "mean", "std", "95% CI", "min", "max", "reference"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table_rows(aggregate):
        interval = "—"
        if row["ci95_low"] is not None:
            interval = f"[{format_number(row['ci95_low'])}, {format_number(row['ci95_high'])}]"
        cells = [str(row[name]) for name in aggregate.by] + [row["metric"], str(row["n"])]
        cells += [format_number(row[name]) for name in ("mean", "std")]
        cells += [interval, *(format_number(row[name]) for name in ("min", "max", "reference"))]
        lines.append("| " + " | ".join(cells) + " |")
    if aggregate.missing:
        lines.append(f"\n{len(aggregate.missing)} (run, metric) values missing; see `missing`.")
    return "\n".join(lines)


def write_csv(aggregate: Aggregate, path: str | os.PathLike) -> Path:
    """aggregate.csv: the table's rows with full-precision numbers (empty cell for None)."""
    from latent_lab.files import write_text_atomic

    columns = [*aggregate.by, "metric", *STAT_FIELDS, "reference"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in table_rows(aggregate):
        writer.writerow({name: "" if row[name] is None else row[name] for name in columns})
    return write_text_atomic(path, buffer.getvalue())
