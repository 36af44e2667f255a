"""`latent-lab results collect`: finished run folders -> the small CSVs a results page is made
from (docs/results/data/<topic>/): runs.csv, one row per run (its arm, pairing key, size, wall
time, every scalar metric beside its exact reference and trivial baseline where the run records
them), the curves derived from each run's positions.parquet (curves.py) and any probes.json
(probe_rows.py). All files are replaced together or not at all."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from latent_lab.analysis.pages.csvio import csv_text
from latent_lab.analysis.pages.spec import Spec, arm_key
from latent_lab.errors import UserError

RUNS_FILE = "runs.csv"
RESULTS_FILE = "results.json"
IDENTITY = (
    "grid",
    "arm",
    "pair",
    "seed",
    "run",
    "config_name",
    "model_type",
    "num_parameters",
    "state_size",
    "wall_time_s",
)
EVAL_PREFIX = "eval_"


def grid_for_dir(spec: Spec, folder: Path):
    """The spec's grid whose `runs` folder has this folder's name (runs may live elsewhere)."""
    for grid in spec.grids:
        if Path(grid.runs).name == folder.resolve().name:
            return grid
    names = ", ".join(Path(g.runs).name for g in spec.grids)
    raise UserError(
        f"RUNS_DIR {str(folder)!r}: its name matches no grid's runs folder in "
        f"{spec.path} (expected one of: {names})"
    )


def run_folders(folder: Path) -> tuple[list[Path], list[Path]]:
    """(finished runs: folders with results.json, not nested in another run; unfinished: the
    launch layout's runs/<run>/ folders without one yet)."""
    if not folder.is_dir():
        raise UserError(f"RUNS_DIR {str(folder)!r}: no such folder; give a grid's output_dir")
    found = sorted(path.parent for path in folder.rglob(RESULTS_FILE) if path.is_file())
    finished = [f for f in found if not any(p in found for p in f.parents)]
    launched = folder / "runs"
    unfinished = sorted(
        p
        for p in (launched.iterdir() if launched.is_dir() else [])
        if p.is_dir() and not (p / RESULTS_FILE).is_file()
    )
    return finished, unfinished


def lookup(results: dict, metric: str, kind: str) -> float | None:
    """The exact reference (kind "reference") or trivial baseline ("baseline") of a metric,
    through results.json's <kind>_for map; Trainer's eval_ prefix may or may not be there."""
    from latent_lab.analysis.aggregate import is_number

    mapping, values = results.get(f"{kind}_for") or {}, results.get(kind) or {}
    variants = [metric, metric.removeprefix(EVAL_PREFIX), EVAL_PREFIX + metric]
    for name in variants:
        value = values.get(mapping.get(name, ""))
        if is_number(value):
            return float(value)
    return None


def arm_of(grid, value):
    """A run's arm. A grid with axes besides `config` records config_name as CONFIG/POINT
    (launch/grid.py, e.g. results/cpu_small_X/gs1): that run belongs to the arm CONFIG."""
    if grid.arm != "config_name" or value in grid.arms or not isinstance(value, str):
        return value
    return next((arm for arm in grid.arms if value.startswith(f"{arm}/")), value)


def run_row(grid, folder: Path, results: dict, derived: dict) -> dict:
    from latent_lab.analysis.aggregate import field_value, is_number

    pair = field_value(results, grid.pair_by)
    if pair is None:
        raise UserError(
            f"{folder}: the run has no {grid.pair_by!r} (the grid's pair_by); "
            "name a field every run of the grid records"
        )
    row = {
        "grid": grid.name,
        "arm": arm_of(grid, arm_key(field_value(results, grid.arm))),
        "pair": pair,
        "run": folder.name,
        **{key: results.get(key) for key in IDENTITY[3:] if key != "run"},
    }
    metrics = {k: float(v) for k, v in (results.get("metrics") or {}).items() if is_number(v)}
    for name, value in metrics.items():
        row[name] = value
        for kind in ("reference", "baseline"):
            row[f"{name}.{kind}"] = lookup(results, name, kind)
    for kind in ("reference", "baseline"):
        for key, value in (results.get(kind) or {}).items():
            if is_number(value):
                row[f"{kind}.{key}"] = float(value)
    for name, pattern in derived.items():
        row.update(derived_metric(name, pattern, metrics, row))
    return row


def derived_metric(name: str, pattern: str, metrics: dict, row: dict) -> dict:
    """The mean of the run's metrics matching `pattern` (e.g. a two-hop accuracy over the
    type's attributes, whose names differ by type), with the mean reference and baseline when
    every matched metric has one."""
    matched = sorted(m for m in metrics if re.fullmatch(pattern, m))
    if not matched:
        return {}
    out = {name: sum(metrics[m] for m in matched) / len(matched)}
    for kind in ("reference", "baseline"):
        values = [row.get(f"{m}.{kind}") for m in matched]
        if all(v is not None for v in values):
            out[f"{name}.{kind}"] = sum(values) / len(values)
    return out


def collect(spec: Spec, dirs: list[str]) -> dict:
    """Read every finished run under the grids' folders and write the data folder."""
    from latent_lab.analysis.pages.curves import CURVE_FILES, run_curves
    from latent_lab.analysis.pages.probe_rows import COLUMNS, PROBES_FILE, probe_rows
    from latent_lab.analysis.run_files import _read_json

    if dirs:  # folders from elsewhere: matched to a grid by their name
        pairs = [(grid_for_dir(spec, Path(d)), Path(d)) for d in dirs]
    else:  # each grid's own runs folder
        pairs = [(grid, Path(grid.runs)) for grid in spec.grids]
    rows, curves, probes, skipped, unfinished = [], {}, [], [], []
    for grid, folder in pairs:
        finished, waiting = run_folders(folder)
        unfinished += [str(p) for p in waiting]
        for run_dir in finished:
            results = _read_json(run_dir / RESULTS_FILE)
            row = run_row(grid, run_dir, results if isinstance(results, dict) else {}, spec.derived)
            if row["arm"] not in grid.arms:
                skipped.append(f"{run_dir} ({grid.arm}={row['arm']}: not an arm of the spec)")
                continue
            rows.append(row)
            ids = {k: row[k] for k in ("grid", "arm", "pair")}
            for name, part in run_curves(grid, run_dir, ids).items():
                curves.setdefault(name, []).extend(part)
            probes += probe_rows(run_dir, ids)
    if not rows:
        raise UserError(
            f"no finished run of {spec.path}'s arms under "
            f"{', '.join(str(folder) for _, folder in pairs)}; launch the grids first"
        )
    check_unique(rows)
    files = dict(
        [(RUNS_FILE, runs_csv(spec, rows)), curves_csv(spec, PROBES_FILE, COLUMNS, probes)]
    )
    files.update(
        curves_csv(spec, name, columns, curves.get(name, []))
        for name, columns in CURVE_FILES.items()
    )
    write_all(spec.data_dir, files)
    for line in skipped + [f"{p} (unfinished: no results.json yet)" for p in unfinished]:
        print(f"skipped: {line}", file=sys.stderr)
    return {
        "data_dir": str(spec.data_dir),
        "files": sorted(files),
        "runs": len(rows),
        "skipped": skipped,
        "unfinished": unfinished,
    }


def check_unique(rows: list[dict]) -> None:
    seen = {}
    for row in rows:
        key = (row["grid"], row["arm"], str(row["pair"]))
        if key in seen:
            raise UserError(
                f"two runs of grid {key[0]!r}, arm {key[1]!r}, pair {key[2]}: "
                f"{seen[key]} and {row['run']}; pass each grid's runs once"
            )
        seen[key] = row["run"]


def order_key(spec: Spec, row: dict) -> tuple:
    """Rows in page order: grid, arm as the spec lists them, then the pairing key."""
    grids = [g.name for g in spec.grids]
    grid = spec.grids[grids.index(row["grid"])]
    pair = row["pair"]
    numeric = isinstance(pair, int | float) and not isinstance(pair, bool)
    return (
        grids.index(row["grid"]),
        list(grid.arms).index(row["arm"]),
        ((0, pair, "") if numeric else (1, 0, str(pair))),
    )


def runs_csv(spec: Spec, rows: list[dict]) -> str:
    # Columns some run has a value for (no column of references nobody records).
    extra = sorted({k for row in rows for k, v in row.items() if v is not None} - set(IDENTITY))
    return csv_text(sorted(rows, key=lambda r: order_key(spec, r)), [*IDENTITY, *extra])


def curves_csv(spec: Spec, name: str, columns, rows: list[dict]) -> tuple[str, str]:
    def key(row):
        return (
            *order_key(spec, row),
            row.get("split", ""),
            row.get("step", 0),
            str(row.get("slice", "")),
            row.get("order", 0),
            row.get("position", 0),
            str(row.get("target", "")),
            row.get("layer", 0),
        )

    return name, csv_text(sorted(rows, key=key), columns, digits=6)


def write_all(folder: Path, files: dict) -> None:
    from latent_lab.files import staged_dir

    with staged_dir(folder) as staging:
        for name, text in files.items():
            (staging / name).write_text(text, encoding="utf-8")
