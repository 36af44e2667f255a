"""`latent-lab compare`: paired statistics over seeds, checked against hand computation:
differences, mean, paired-t CI and p-value, bootstrap CI, Wilcoxon from 6 pairs, seeds for
80% power; n = 2; a seed missing in one arm is dropped and listed; bounded intervals."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from latent_lab.analysis.aggregate import summarize
from latent_lab.analysis.bounds import metric_bounds
from latent_lab.analysis.paired import paired_statistics, paired_t_power, seeds_for_power
from latent_lab.cli import main as cli_main


def write_run(folder, model_type: str, seed: int, accuracy: float):
    folder.mkdir(parents=True)
    results = {"task": "t", "config_name": model_type, "seed": seed, "model_type": model_type,
               "metrics": {"eval_accuracy": accuracy}, "config": {"hidden_size": 64}}  # fmt: skip
    (folder / "results.json").write_text(json.dumps(results))


def run_compare(tmp_path, capsys, arms: dict, *extra):
    for model_type, values in arms.items():
        for seed, value in values.items():
            write_run(tmp_path / "runs" / f"{model_type}-{seed}", model_type, seed, value)
    argv = ["compare", str(tmp_path / "runs"), "--by", "model_type",
            "--metric", "eval_accuracy", *extra]  # fmt: skip
    assert cli_main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1]), "\n".join(out[:-1])


def test_paired_statistics_by_hand(tmp_path, capsys):
    lstm = {1: 0.90, 2: 0.80, 3: 0.85, 4: 0.70}
    rnn = {1: 0.60, 2: 0.65, 3: 0.50, 4: 0.55, 5: 0.40}  # seed 5: only one arm
    summary, table = run_compare(tmp_path, capsys, {"lstm": lstm, "rnn": rnn})
    (c,) = summary["comparisons"]
    assert (c["field"], c["a"], c["b"], c["metric"]) == ("model_type", "lstm", "rnn",
                                                          "eval_accuracy")  # fmt: skip
    d = np.array([0.30, 0.15, 0.35, 0.15])
    assert c["seeds"] == [1, 2, 3, 4] and c["dropped"] == [5]
    np.testing.assert_allclose(c["differences"], d)
    assert c["n_pairs"] == 4 and c["mean_difference"] == pytest.approx(d.mean())
    half = stats.t.ppf(0.975, 3) * d.std(ddof=1) / 2
    assert c["ci95_low"] == pytest.approx(d.mean() - half)
    assert c["ci95_high"] == pytest.approx(d.mean() + half)
    t = d.mean() / (d.std(ddof=1) / 2)
    assert c["p_value"] == pytest.approx(2 * stats.t.sf(t, 3))
    assert c["wilcoxon_p_value"] is None  # fewer than 6 pairs
    assert c["bootstrap_ci95_low"] == pytest.approx(0.15)  # the smallest resampled mean
    assert c["bootstrap_ci95_low"] <= c["mean_difference"] <= c["bootstrap_ci95_high"] <= 0.35
    assert "dropped (only one arm has them): seeds [5]" in table
    assert (tmp_path / "runs" / "compare.csv").is_file()
    assert (tmp_path / "runs" / "compare.png").is_file()


def test_two_pairs_and_bounds():
    d = [0.5, 0.9]
    out = paired_statistics(d, bounds=(-1.0, 1.0))
    half = stats.t.ppf(0.975, 1) * np.std(d, ddof=1) / math.sqrt(2)
    assert 0.7 - half < -1.0 and 0.7 + half > 1.0  # df = 1: wider than the range itself
    assert (out["ci95_low"], out["ci95_high"]) == (-1.0, 1.0)  # clipped to [-1, 1]
    one = paired_statistics([0.2])
    assert one["mean_difference"] == 0.2 and one["ci95_low"] is None and one["p_value"] is None


def test_wilcoxon_from_six_pairs_and_power():
    d = [0.1, 0.2, 0.15, 0.05, 0.3, 0.12]
    out = paired_statistics(d)
    assert out["wilcoxon_p_value"] == pytest.approx(stats.wilcoxon(d).pvalue)
    effect = np.mean(d) / np.std(d, ddof=1)
    n = out["seeds_for_power"]
    assert paired_t_power(effect, n) >= 0.8 > paired_t_power(effect, n - 1)
    # a large effect needs few seeds; no spread or no effect: no answer
    assert seeds_for_power(1.0, 0.1) == 3 and seeds_for_power(0.0, 1.0) is None


def test_bounded_metric_intervals_stay_in_their_range():
    assert metric_bounds("eval_accuracy") == (0.0, 1.0)
    assert metric_bounds("acc_2hop_state_nocot") == (0.0, 1.0)
    assert metric_bounds("excess_loss")[0] == -math.inf
    summary = summarize([0.9, 1.0, 1.0, 0.6], metric_bounds("eval_accuracy"))
    assert summary["ci95_high"] == 1.0 and summary["ci95_low"] > 0.4


def test_one_arm_is_one_line_exit_2(tmp_path, capsys):
    write_run(tmp_path / "runs" / "a", "lstm", 1, 0.5)
    argv = ["compare", str(tmp_path / "runs"), "--by", "model_type", "--metric", "eval_accuracy"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs two" in err[0]


def test_power_of_the_two_sided_paired_t_matches_known_values():
    # effect 0.5 (mean / sd), two-sided at 0.05: 34 pairs give 0.808 (G*Power; a Monte Carlo
    # of 20,000 draws here gave 0.8078), 10 pairs 0.293. A one-sided test would give 0.88.
    assert paired_t_power(0.5, 34) == pytest.approx(0.8078, abs=5e-4)
    assert paired_t_power(0.5, 10) == pytest.approx(0.2932, abs=5e-4)
