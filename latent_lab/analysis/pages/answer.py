"""The plain-language answer of a results page, generated from its numbers by explicit rules,
so that it changes when the data do:

- a paired comparison whose 95% CI (paired t) excludes 0: "<a> reaches a lower|higher <metric>
  than <b>" (with "better"/"worse" when the spec says which direction is better), the mean
  difference, its interval, n and the p-value;
- one whose interval includes 0: "no difference resolved at this scale with n <units>", with
  the seeds 80% power would need at the observed effect;
- no pair, or one: said so, no verdict;
- an arm with fewer than MIN_RUNS runs: a caution that its numbers are not yet a result.
"""

from __future__ import annotations

MIN_RUNS = 3  # the bar for a result: n >= 3 seeds per arm


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return format(value, f".{digits}g")


def interval(low, high) -> str:
    if low is None and high is None:
        return "n/a"
    return f"[{fmt(low)}, {fmt(high)}]"


def verdict(direction: str, better: str) -> str:
    if better == "neither":
        return ""
    return " (better)" if direction == better else " (worse)"


def evidence(c: dict) -> str:
    if c["ci95_low"] == c["ci95_high"]:  # no spread: an exact quantity on shared data
        return (
            f"{c['a']} − {c['b']} = {fmt(c['mean_difference'])} in each of the {c['n_pairs']} pairs"
        )
    return (
        f"{c['a']} − {c['b']} = {fmt(c['mean_difference'])}, 95% CI "
        f"{interval(c['ci95_low'], c['ci95_high'])}, n = {c['n_pairs']} {c['unit']}, "
        f"paired t p = {fmt(c['p_value'], 2)}"
    )


def subject(c: dict) -> str:
    if c["kind"] == "between":
        return f"{c['a']} vs {c['b']} on {c['metric_label']}"
    return f"{c['a']} vs {c['b']} ({c['scope']})"


def resolved(c: dict) -> str:
    direction = "higher" if c["mean_difference"] > 0 else "lower"
    judged = verdict(direction, c["better"])
    verb = "has" if c["better"] == "neither" else "reaches"
    if c["kind"] == "between":
        head = f"{c['a']} {verb} a {direction}{judged} {c['metric_label']} than {c['b']}"
    else:
        head = f"{c['scope']}: {c['a']} is {direction}{judged} than {c['b']}"
    return f"{head} ({evidence(c)})."


def unresolved(c: dict) -> str:
    need = c["seeds_for_power"]
    tail = (
        f"about {need} {c['unit']} would be needed for 80% power at the observed effect"
        if need
        else "the observed effect is too small to size a study"
    )
    return (
        f"{subject(c)}: the interval includes 0 ({evidence(c)}): no difference resolved at "
        f"this scale with {c['n_pairs']} {c['unit']}; {tail}."
    )


def comparison_sentence(c: dict) -> str:
    n = c["n_pairs"]
    if n == 0:
        return f"{subject(c)}: no pair of runs yet; nothing to compare."
    if c["ci95_low"] is None:
        return (
            f"{subject(c)}: only {n} pair ({c['a']} − {c['b']} = "
            f"{fmt(c['mean_difference'])}); no interval yet."
        )
    if c["ci95_low"] > 0 or c["ci95_high"] < 0:
        return resolved(c)
    return unresolved(c)


def headline_sentence(metric, table: list[dict]) -> str:
    """Where each arm stands on the grid's first metric, beside the optimum and baseline."""
    parts = []
    for row in table:
        if not row["n"]:
            parts.append(f"{row['label']}: no finished run")
            continue
        where = f"{row['label']} {fmt(row['mean'])} {interval(row['ci95_low'], row['ci95_high'])}"
        extra = [
            f"{name} {fmt(row[key])}"
            for name, key in (("exact optimum", "optimum"), ("baseline", "baseline"))
            if row[key] is not None
        ]
        parts.append(where + (f" ({', '.join(extra)})" if extra else ""))
    better = "" if metric.better == "neither" else f" ({metric.better} is better)"
    return f"{metric.title}{better}, mean and 95% CI per arm: " + "; ".join(parts) + "."


def exact_sentence(key: str, table: list[dict]) -> str:
    parts = []
    for row in table:
        if not row["n"]:
            continue
        spread = (
            "one run"
            if row["n"] == 1
            else "the same in every run"
            if row["std"] == 0
            else f"95% CI {interval(row['ci95_low'], row['ci95_high'])}"
        )
        parts.append(f"{row['label']} {fmt(row['mean'])} ({spread}, n = {row['n']})")
    return f"Exact {key} measured on the runs' own data: " + "; ".join(parts) + "."


def caution(grid, tables: dict) -> str | None:
    first = next(iter(tables.values()), [])
    short = [f"{row['label']} ({row['n']})" for row in first if row["n"] < MIN_RUNS]
    if not short:
        return None
    return (
        f"Caution: fewer than {MIN_RUNS} runs in {', '.join(short)}; those numbers are not "
        "yet a result."
    )
