"""`latent-lab results collect|page`: fake runs (2 arms x 3 seeds, known numbers) -> CSVs -> a
page whose every table number is recomputed here independently (numpy/scipy), a generated
answer that flips with the sign of the difference, byte-identical reruns, and one-line exit-2
errors that write nothing; the shipped specs load and name the grids they run."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from results_pages_fixtures import (
    BAYES_ACCURACY,
    BAYES_LOSS,
    MAJORITY,
    NUMBERS,
    UNIGRAM_LOSS,
    fmt,
    make_project,
    markdown_table,
    values,
)
from scipy import stats

from latent_lab.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv) -> dict:
    code = cli_main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out.strip().splitlines()[-1])


@pytest.fixture
def page(tmp_path, capsys):
    spec, runs = make_project(tmp_path)
    collected = run(capsys, "results", "collect", str(spec), str(runs))
    made = run(capsys, "results", "page", str(spec))
    return spec, collected, made


def test_collect_writes_small_csvs(page):
    spec, collected, _ = page
    data = spec.parent / "data" / "topic"
    assert collected["runs"] == 7
    assert collected["unfinished"] == [str(spec.parents[2] / "runs/fake/runs/arm_a-seed9")]
    assert "arm_c" in collected["skipped"][0]
    rows = list(csv.DictReader((data / "runs.csv").open()))
    assert [(r["arm"], r["seed"]) for r in rows] == [
        (a, str(s)) for a in NUMBERS for s in sorted(NUMBERS[a])
    ]
    for row in rows:
        excess, accuracy, _, entropy = NUMBERS[row["arm"]][int(row["seed"])]
        assert float(row["excess_loss"]) == excess  # full precision: repr round-trips
        assert float(row["eval_accuracy.reference"]) == BAYES_ACCURACY
        assert float(row["eval_loss.baseline"]) == UNIGRAM_LOSS
        assert float(row["reference.bayes_entropy_rate"]) == entropy
        shifted = NUMBERS[row["arm"]][int(row["seed"])][2]
        assert float(row["mean_accuracy"]) == pytest.approx((accuracy + shifted) / 2)
        assert "mean_accuracy.reference" not in row  # the shifted accuracy has no optimum
    curves = pd.read_csv(data / "curves_over_training.csv")
    assert len(curves) == 7 * 2  # runs x evaluations, no per-example rows
    last = curves[(curves["arm"] == "arm_b") & (curves["pair"] == 3) & (curves["step"] == 20)]
    assert last["model_nll"].item() - last["reference_nll"].item() == pytest.approx(
        0.47 + 0.015, abs=1e-5
    )
    seen = pd.read_csv(data / "curves_by_slice.csv")
    assert set(seen["value"]) == {True, False} and len(seen) == 7 * 2 * 2
    assert all(path.stat().st_size < 200_000 for path in data.iterdir())


def expected_arm_row(v: np.ndarray, bounded: bool) -> list[str]:
    n, mean, std = len(v), v.mean(), v.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounded:
        low, high = max(low, 0.0), min(high, 1.0)
    return [str(n), fmt(mean), f"[{fmt(low)}, {fmt(high)}]", fmt(std)]


def test_every_table_number_is_recomputed(page):
    spec, _, made = page
    text = Path(made["page"]).read_text()
    table = {(r[0], r[1]): r[2:] for r in markdown_table(text, "### Per arm")}
    for arm, label in (("arm_a", "A"), ("arm_b", "B")):
        excess = expected_arm_row(values(arm, 0), bounded=False)
        assert table[("excess loss ↓", label)] == excess + ["0", fmt(UNIGRAM_LOSS - BAYES_LOSS)]
        accuracy = expected_arm_row(values(arm, 1), bounded=True)
        assert table[("accuracy ↑", label)] == accuracy + [fmt(BAYES_ACCURACY), fmt(MAJORITY)]
    exact = {r[1]: r[2:] for r in markdown_table(text, "### Exact quantities")}
    entropy = values("arm_a", 3)
    assert exact["A"][:2] == ["3", fmt(entropy.mean())]
    assert exact["A"][3:] == [fmt(entropy.min()), fmt(entropy.max())]
    rows = markdown_table(text, "### Paired comparisons")
    paired = (1, 2, 3)  # seed 4: only B
    assert rows[0][:2] == ["A − B", "excess loss"]
    assert rows[0][2:] == expected_comparison(values("arm_a", 0) - values("arm_b", 0, paired))
    assert rows[1][2:] == expected_comparison(values("arm_a", 1) - values("arm_b", 1, paired))
    assert "dropped (unpaired): seed 4 (only B)" in text
    within = values("arm_a", 1) - values("arm_a", 2)
    assert rows[2][:2] == ["accuracy − shifted accuracy (A)", "accuracy"]
    assert rows[2][2:] == expected_comparison(within)
    against = np.concatenate([values("arm_a", 1), values("arm_b", 1)]) - MAJORITY
    assert rows[-1][0] == "accuracy − its baseline (all runs)"
    assert rows[-1][2:] == expected_comparison(against)


def expected_comparison(d: np.ndarray) -> list[str]:
    """n, mean, paired-t CI, bootstrap CI (10,000 resamples, seed 0), p (t), p (Wilcoxon, from
    6 pairs), the pairs 80% power needs (scipy's noncentral t, not analysis/paired.py)."""
    n, mean, sd = len(d), d.mean(), d.std(ddof=1)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    means = d[np.random.default_rng(0).integers(0, n, size=(10_000, n))].mean(axis=1)
    boot = np.percentile(means, [2.5, 97.5])
    p = stats.ttest_rel(d, np.zeros(n)).pvalue
    wilcoxon = fmt(stats.wilcoxon(d).pvalue, 2) if n >= 6 else "n/a"
    need = next(k for k in range(2, 1000) if power(abs(mean) / sd, k) >= 0.8)
    return [str(n), fmt(mean), f"[{fmt(mean - half)}, {fmt(mean + half)}]",
            f"[{fmt(boot[0])}, {fmt(boot[1])}]", fmt(p, 2), wilcoxon, str(need)]  # fmt: skip


def power(effect: float, n: int) -> float:
    critical = stats.t.ppf(0.975, n - 1)
    shift = effect * math.sqrt(n)
    return stats.nct.sf(critical, n - 1, shift) + stats.nct.cdf(-critical, n - 1, shift)


def answer_for(capsys, tmp_path, numbers) -> str:
    spec, runs = make_project(tmp_path, numbers)
    run(capsys, "results", "collect", str(spec), str(runs))
    made = run(capsys, "results", "page", str(spec))
    return next(s for s in made["answer"] if s.startswith("A ") and "excess loss" in s)


def test_the_answer_flips_with_the_sign_of_the_difference(tmp_path, capsys):
    better = answer_for(capsys, tmp_path / "1", NUMBERS)
    assert better.startswith("A reaches a lower (better) excess loss than B (A − B = -0.1667")
    swapped = {"arm_a": NUMBERS["arm_b"], "arm_b": NUMBERS["arm_a"]}
    worse = answer_for(capsys, tmp_path / "2", swapped)
    assert worse.startswith("A reaches a higher (worse) excess loss than B (A − B = 0.1667")
    noisy = {arm: dict(seeds) for arm, seeds in NUMBERS.items()}
    noisy["arm_a"][1] = (0.70, *noisy["arm_a"][1][1:])  # one seed reverses: CI includes 0
    unresolved = answer_for(capsys, tmp_path / "3", noisy)
    assert "the interval includes 0" in unresolved
    assert "no difference resolved at this scale with 3 seeds; about" in unresolved


def test_page_is_byte_identical_on_a_second_run(page, capsys):
    spec, _, made = page
    files = [Path(made["page"]), *map(Path, made["figures"])]
    assert len(made["figures"]) == 7
    before = {path: path.read_bytes() for path in files}
    again = run(capsys, "results", "page", str(spec))
    assert again["figures"] == made["figures"]
    assert {path: path.read_bytes() for path in files} == before
    text = before[Path(made["page"])].decode()
    assert text.startswith("# Fake question\n\n> Generated by `latent-lab results page ")
    assert "(`runs.csv`, `curves_over_training.csv`" in text


def fails(capsys, *argv) -> str:
    code = cli_main(list(argv))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "error:" in err[0], err
    return err[0]


def test_one_line_errors_write_nothing(tmp_path, capsys):
    spec, runs = make_project(tmp_path)
    assert "run `latent-lab results collect" in fails(capsys, "results", "page", str(spec))
    assert not (spec.parent / "topic.md").exists() and not (spec.parent / "topic").exists()
    text = spec.read_text()
    spec.write_text(text.replace("arm_b: B}", "arm_z: B}"))
    assert "arms: 'arm_z' is not a value of config_name" in fails(
        capsys, "results", "collect", str(spec)
    )
    spec.write_text(text.replace("{a: arm_a, b: arm_b, metric: eval_accuracy}",
                                 "{a: arm_a, b: arm_q, metric: eval_accuracy}"))  # fmt: skip
    assert "arm 'arm_q' is not in this grid's arms" in fails(capsys, "results", "page", str(spec))
    spec.write_text(text.replace("    figures:", "    figure:"))
    assert "unknown key 'figure'" in fails(capsys, "results", "collect", str(spec))
    spec.write_text(text.replace("excess_of", "excess_off"))
    assert "unknown key 'excess_off'" in fails(capsys, "results", "page", str(spec))
    spec.write_text(text)
    assert "matches no grid" in fails(capsys, "results", "collect", str(spec), str(tmp_path))
    assert not (spec.parent / "data").exists()


SHIPPED = ("infer_vs_predict", "latent_structure", "fsm_architectures", "insert_spaces", "two_hop")


@pytest.mark.parametrize("topic", SHIPPED)
def test_shipped_specs_load_and_list_their_commands(topic, monkeypatch):
    from latent_lab.analysis.pages.spec import load_spec

    monkeypatch.chdir(REPO)  # grid paths are relative to the repository root
    spec = load_spec(f"docs/results/{topic}.yaml")
    launched = [line.split()[-1] for line in spec.commands if line.startswith("latent-lab launch")]
    assert launched == [grid.grid for grid in spec.grids]
    collect = f"latent-lab results collect docs/results/{topic}.yaml"
    assert spec.commands[-2] == " ".join([collect, *(grid.runs for grid in spec.grids)])
    assert spec.commands[-1] == f"latent-lab results page docs/results/{topic}.yaml"


def test_results_errors_answer_without_heavy_imports(tmp_path):
    from test_cli_startup import run_cli_process

    work = tmp_path / "work"
    work.mkdir()
    code, heavy, _, err = run_cli_process(["results", "page", "no_such.yaml"], work, tmp_path)
    assert code == 2 and "not a YAML file" in err and heavy == []


def test_runs_of_a_grid_with_more_axes_belong_to_their_config_arm():
    """launch records config_name CONFIG/POINT when the grid has axes besides config (the
    graph-seed grids): such a run is the CONFIG arm, and nothing else matches by prefix."""
    from types import SimpleNamespace

    from latent_lab.analysis.pages.collect import arm_of

    grid = SimpleNamespace(arm="config_name", arms={"results/cpu_small_X": "X", "results/a": "A"})
    assert arm_of(grid, "results/cpu_small_X/gs2") == "results/cpu_small_X"
    assert arm_of(grid, "results/cpu_small_X") == "results/cpu_small_X"
    assert arm_of(grid, "results/ab/gs1") == "results/ab/gs1"  # not an arm: skipped by collect
    assert arm_of(SimpleNamespace(arm="type", arms={"parks": "p"}), "parks/x") == "parks/x"


def test_slice_bins_keep_values_outside_the_edges_apart():
    import numpy as np
    import pandas as pd

    from latent_lab.analysis.pages.curves import slice_labels

    labels, order = slice_labels(pd.Series([-1, 0, 0.4, 1.0, 3.5, 4, np.nan]), [0, 0.5, 1, 3.5])
    assert list(labels) == ["<0", "0-0.5", "0-0.5", "1-3.5", "1-3.5", ">3.5", "n/a"]
    assert [int(x) for x in order] == [-1, 0, 0, 2, 2, 3, 4]
