"""Paired comparisons over seeds: the arms of a comparison see the same data for the same seed,
so arm A and arm B are compared by their per-seed differences, not by two unrelated means.

For each pair of values (a, b) of a field and a metric: the differences d_s = a_s - b_s over
the seeds both arms have (a seed missing from one arm is dropped and listed), their mean, a 95%
CI from the paired t (the default) and from a bootstrap of the seeds, the paired-t p-value, the
Wilcoxon signed-rank p-value when n >= 6, and how many seeds a paired t-test at alpha 0.05
needs for 80% power at the observed effect (mean / sd of the differences). Intervals are
clipped to the range a difference of the metric can take (analysis/bounds.py).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from latent_lab.analysis.aggregate import field_value, is_number
from latent_lab.analysis.bounds import clip_interval, difference_bounds
from latent_lab.errors import UserError

CONFIDENCE = 0.95
POWER, ALPHA = 0.8, 0.05
BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED = 10_000, 0
WILCOXON_MIN_PAIRS = 6
MAX_SEEDS_FOR_POWER = 10_000
STATISTICS = (
    "mean_difference",
    "ci95_low",
    "ci95_high",
    "bootstrap_ci95_low",
    "bootstrap_ci95_high",
    "p_value",
    "wilcoxon_p_value",
    "seeds_for_power",
)


@dataclass
class Comparison:
    field: str
    a: object
    b: object
    metric: str
    seeds: list = field(default_factory=list)
    differences: list = field(default_factory=list)
    dropped: list = field(default_factory=list)  # seeds only one arm has
    n_pairs: int = 0
    mean_difference: float | None = None
    ci95_low: float | None = None  # paired t
    ci95_high: float | None = None
    bootstrap_ci95_low: float | None = None
    bootstrap_ci95_high: float | None = None
    p_value: float | None = None  # paired t
    wilcoxon_p_value: float | None = None
    seeds_for_power: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def paired_statistics(differences, bounds=(-math.inf, math.inf)) -> dict:
    """The statistics of per-seed differences (None where n is too small to have them)."""
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    out = dict.fromkeys(STATISTICS)
    out["n_pairs"] = n
    if n == 0:
        return out
    mean = float(d.mean())
    out["mean_difference"] = mean
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * sd / math.sqrt(n)
    out["ci95_low"], out["ci95_high"] = clip_interval(mean - half, mean + half, bounds, d)
    out["p_value"] = float(stats.ttest_1samp(d, 0.0).pvalue) if sd > 0 else None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = d[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    out["bootstrap_ci95_low"], out["bootstrap_ci95_high"] = float(low), float(high)
    if n >= WILCOXON_MIN_PAIRS and np.any(d != 0):
        out["wilcoxon_p_value"] = float(stats.wilcoxon(d).pvalue)
    out["seeds_for_power"] = seeds_for_power(mean, sd)
    return out


def paired_t_power(effect: float, n: int) -> float:
    """Power of the two-sided paired t-test at ALPHA with n pairs, effect = mean / sd."""
    from scipy import stats

    df = n - 1
    critical = stats.t.ppf(1 - ALPHA / 2, df)
    noncentrality = effect * math.sqrt(n)
    upper = stats.nct.sf(critical, df, noncentrality)
    lower = stats.nct.cdf(-critical, df, noncentrality)
    return float(upper + lower)


def seeds_for_power(mean: float, sd: float) -> int | None:
    """The fewest seeds (pairs) giving 80% power at the observed effect; None when the effect
    is zero or has no spread to measure it against, or needs more than MAX_SEEDS_FOR_POWER."""
    if sd <= 0 or mean == 0:
        return None
    effect = abs(mean) / sd
    for n in itertools.count(2):
        if paired_t_power(effect, n) >= POWER:
            return n
        if n >= MAX_SEEDS_FOR_POWER:
            return None
    return None


def compare(runs, by: str, metric: str) -> list[Comparison]:
    """A Comparison for every pair of values of `by` (in sorted order), paired by seed."""
    arms: dict = {}
    for run in runs:
        value, seed = field_value(run.results, by), run.results.get("seed")
        metric_value = run.metrics.get(metric)
        if value is None or seed is None or not is_number(metric_value):
            continue
        if seed in arms.setdefault(value, {}):
            raise UserError(
                f"--by {by}: two runs with {by}={value!r} and seed {seed} ({run.folder}); "
                "compare one grid at a time, or add a field that tells them apart"
            )
        arms[value][seed] = float(metric_value)
    if len(arms) < 2:
        raise UserError(
            f"--by {by}: the runs with {metric!r} take {len(arms)} value(s) of {by}; a "
            "comparison needs two (pass the runs of both arms)"
        )
    bounds = difference_bounds(metric)
    comparisons = []
    for a, b in itertools.combinations(sorted(arms, key=str), 2):
        seeds = sorted(set(arms[a]) & set(arms[b]))
        dropped = sorted(set(arms[a]) ^ set(arms[b]))
        differences = [arms[a][s] - arms[b][s] for s in seeds]
        stats_ = paired_statistics(differences, bounds)
        comparisons.append(Comparison(by, a, b, metric, seeds, differences, dropped, **stats_))
    return comparisons
