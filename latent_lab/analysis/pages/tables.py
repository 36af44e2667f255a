"""The numbers of a results page, from runs.csv alone: per arm the mean and 95% CI over runs
(Student t, kept inside a bounded metric's range: analysis/aggregate.summarize) beside the exact
optimum and the trivial baseline; and the paired statistics (analysis/paired.paired_statistics)
of every comparison the spec asks for: two arms paired by the grid's pair_by field, two metrics
within each run, or a metric against its baseline."""

from __future__ import annotations

from latent_lab.analysis.pages.csvio import number
from latent_lab.analysis.pages.spec import REFERENCE_PREFIX, Grid


def grid_rows(rows: list[dict], grid: Grid, arm: str | None = None) -> list[dict]:
    return [r for r in rows if r["grid"] == grid.name and (arm is None or r["arm"] == arm)]


def pair_order(pair: str) -> tuple:
    value = number(pair)
    return (0, value, "") if value is not None else (1, 0, pair)


def optimum_and_baseline(metric, rows: list[dict]) -> tuple[float | None, float | None]:
    """Means over the runs of the metric's exact optimum and trivial baseline. An excess
    (`excess_of`: the metric minus its optimum) has optimum 0 and baseline the gap between the
    base metric's baseline and optimum."""
    if metric.excess_of:
        base = metric.excess_of
        gaps = [number(r.get(f"{base}.baseline")) for r in rows]
        refs = [number(r.get(f"{base}.reference")) for r in rows]
        pairs = [(g, f) for g, f in zip(gaps, refs, strict=True) if None not in (g, f)]
        baseline = sum(g - f for g, f in pairs) / len(pairs) if pairs else None
        return (0.0 if rows else None), baseline
    found = []
    for kind in ("reference", "baseline"):
        values = [v for r in rows if (v := number(r.get(f"{metric.name}.{kind}"))) is not None]
        found.append(sum(values) / len(values) if values else None)
    return found[0], found[1]


def arm_table(grid: Grid, rows: list[dict], metric) -> list[dict]:
    """One row per arm: n, mean, std, 95% CI, min, max, exact optimum, baseline."""
    from latent_lab.analysis.aggregate import summarize
    from latent_lab.analysis.bounds import metric_bounds

    table = []
    for arm, label in grid.arms.items():
        runs = [r for r in grid_rows(rows, grid, arm) if number(r.get(metric.name)) is not None]
        values = [number(r[metric.name]) for r in runs]
        bounds = None if metric.name.startswith(REFERENCE_PREFIX) else metric_bounds(metric.name)
        optimum, baseline = optimum_and_baseline(metric, runs)
        table.append(
            {
                "arm": arm,
                "label": label,
                **summarize(values, bounds),
                "optimum": optimum,
                "baseline": baseline,
            }
        )
    return table


def measured(grid: Grid, rows: list[dict], name: str) -> bool:
    return any(number(r.get(name)) is not None for r in grid_rows(rows, grid))


def record(
    kind: str, scope: str, a: str, b: str, metric, labels, differences, dropped, unit: str = "runs"
) -> dict:
    from latent_lab.analysis.bounds import difference_bounds
    from latent_lab.analysis.paired import paired_statistics

    return {
        "kind": kind,
        "scope": scope,
        "a": a,
        "b": b,
        "metric": metric.name,
        "unit": unit,
        "metric_label": metric.title,
        "better": metric.better,
        "pairs": labels,
        "differences": differences,
        "dropped": dropped,
        **paired_statistics(differences, difference_bounds(metric.name)),
    }


def between(grid: Grid, rows: list[dict], a: str, b: str, name: str) -> dict:
    """Arm a minus arm b, paired by pair_by; pairs only one arm has are dropped and listed."""
    metric = grid.metric(name)
    values = {}
    for arm in (a, b):
        values[arm] = {r["pair"]: number(r.get(name)) for r in grid_rows(rows, grid, arm)}
        values[arm] = {p: v for p, v in values[arm].items() if v is not None}
    common = sorted(set(values[a]) & set(values[b]), key=pair_order)
    dropped = sorted(set(values[a]) ^ set(values[b]), key=pair_order)
    differences = [values[a][p] - values[b][p] for p in common]
    labels = [f"{grid.pair_by} {p}" for p in common]
    dropped = [
        f"{grid.pair_by} {p} (only {grid.arms[a if p in values[a] else b]})" for p in dropped
    ]
    unit = "seeds" if grid.pair_by == "seed" else f"{grid.pair_by} values"
    return record(
        "between",
        grid.arms[a] + " vs " + grid.arms[b],
        grid.arms[a],
        grid.arms[b],
        metric,
        labels,
        differences,
        dropped,
        unit,
    )


def scopes(grid: Grid, rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """Each arm's runs, then all runs of the grid together when it has several arms."""
    found = [(label, grid_rows(rows, grid, arm)) for arm, label in grid.arms.items()]
    return found + ([("all runs", grid_rows(rows, grid))] if len(found) > 1 else [])


def run_label(grid: Grid, row: dict) -> str:
    return f"{grid.arms[row['arm']]}, {grid.pair_by} {row['pair']}"


def within(grid: Grid, rows: list[dict], a: str, b: str) -> list[dict]:
    """Metric a minus metric b of the same run, per arm and over all runs."""
    metric_a, metric_b = grid.metric(a), grid.metric(b)
    out = []
    for scope, runs in scopes(grid, rows):
        both = [r for r in runs if None not in (number(r.get(a)), number(r.get(b)))]
        differences = [number(r[a]) - number(r[b]) for r in both]
        dropped = [run_label(grid, r) for r in runs if r not in both]
        labels = [run_label(grid, r) for r in both]
        out.append(
            record(
                "within",
                scope,
                metric_a.title,
                metric_b.title,
                metric_a,
                labels,
                differences,
                dropped,
            )
        )
    return out


def against(grid: Grid, rows: list[dict], name: str, value) -> list[dict]:
    """The metric minus its baseline / exact reference / a number, per arm and over all runs."""
    metric = grid.metric(name)
    target_name = f"its {value}" if isinstance(value, str) else format(value, "g")
    out = []
    for scope, runs in scopes(grid, rows):
        targets = [
            number(r.get(f"{name}.{value}")) if isinstance(value, str) else float(value)
            for r in runs
        ]
        kept = [
            (r, t)
            for r, t in zip(runs, targets, strict=True)
            if t is not None and number(r.get(name)) is not None
        ]
        differences = [number(r[name]) - t for r, t in kept]
        dropped = [run_label(grid, r) for r in runs if r not in [k for k, _ in kept]]
        out.append(
            record(
                "against",
                scope,
                metric.title,
                target_name,
                metric,
                [run_label(grid, r) for r, _ in kept],
                differences,
                dropped,
            )
        )
    return out


def grid_comparisons(grid: Grid, rows: list[dict]) -> list[dict]:
    found = [between(grid, rows, a, b, metric) for a, b, metric in grid.compare]
    for a, b in grid.within:
        found += within(grid, rows, a, b)
    for name, value in grid.against:
        found += against(grid, rows, name, value)
    return found
