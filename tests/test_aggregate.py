"""Aggregation across runs: statistics against hand-computed values, grouping, missing metrics,
and the `latent-lab aggregate` command's files and JSON summary."""

import csv
import json
import math

import pytest

import latent_lab.cli
from latent_lab.analysis.aggregate import aggregate_runs, load_results, summarize
from latent_lab.errors import UserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_results(folder, *, seed, metrics, config_name="quick", config=None, reference=None):
    """A results.json as training writes it (only the fields aggregation reads, plus a few)."""
    folder.mkdir(parents=True)
    results = {
        "task": "char_stream",
        "config_name": config_name,
        "seed": seed,
        "model_type": "gpt2",
        "num_parameters": 1000,
        "metrics": metrics,
        "reference": {"best_answer_accuracy": reference} if reference is not None else {},
        "reference_for": {"answer_accuracy": "best_answer_accuracy"},
        "wall_time_s": 1.0,
        "versions": {},
        "config": {"learning_rate": 1e-3, "seed": seed, **(config or {})},
    }
    (folder / "results.json").write_text(json.dumps(results))
    return folder


def run_cli(argv, capsys):
    code = latent_lab.cli.main(argv)
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    summary = json.loads(lines[-1]) if code == 0 else None
    return code, summary, captured.out, captured.err


def test_statistics_match_hand_computed_values():
    stats = summarize([1.0, 2.0, 3.0, 4.0])
    # std = sqrt(5/3); t(0.975, df=3) = 3.182446305; half width = t * std / sqrt(4)
    assert stats["n"] == 4
    assert stats["mean"] == 2.5
    assert stats["std"] == pytest.approx(1.2909944487, abs=1e-9)
    assert stats["ci95_low"] == pytest.approx(2.5 - 2.0542603, abs=1e-6)
    assert stats["ci95_high"] == pytest.approx(2.5 + 2.0542603, abs=1e-6)
    assert (stats["min"], stats["max"]) == (1.0, 4.0)


def test_one_value_has_no_spread_and_no_interval():
    stats = summarize([0.75])
    assert stats == {
        "n": 1,
        "mean": 0.75,
        "std": None,
        "ci95_low": None,
        "ci95_high": None,
        "min": 0.75,
        "max": 0.75,
    }
    assert summarize([])["n"] == 0 and summarize([])["mean"] is None


def test_groups_by_a_config_field_and_lists_missing_metrics(tmp_path):
    write_results(tmp_path / "a", seed=1, metrics={"acc": 0.5, "loss": 2.0}, config={"width": 8})
    write_results(tmp_path / "b", seed=2, metrics={"acc": 0.7, "loss": 1.0}, config={"width": 8})
    write_results(tmp_path / "c", seed=1, metrics={"acc": 0.9}, config={"width": 16})
    write_results(tmp_path / "d", seed=2, metrics={"acc": float("nan")}, config={"width": 16})
    aggregate = aggregate_runs(load_results([tmp_path]), by=["width"])
    assert [group.key for group in aggregate.groups] == [{"width": 8}, {"width": 16}]
    narrow, wide = (group.stats("acc") for group in aggregate.groups)
    assert narrow["n"] == 2 and narrow["mean"] == pytest.approx(0.6)
    assert narrow["std"] == pytest.approx(math.sqrt(0.02))  # (0.1^2 + 0.1^2) / (2 - 1)
    assert wide["n"] == 1 and wide["mean"] == 0.9 and wide["std"] is None
    assert aggregate.groups[1].stats("loss")["n"] == 0
    missing = {(entry["run"], entry["metric"]) for entry in aggregate.missing}
    assert missing == {
        (str(tmp_path / "c"), "loss"),
        (str(tmp_path / "d"), "loss"),
        (str(tmp_path / "d"), "acc"),
    }


def test_accuracy_intervals_stay_inside_0_and_1(tmp_path):
    # mean 0.9, sd 0.2, t(0.975, 3) * 0.2 / 2 = 0.318: the plain interval would reach 1.218
    for seed, acc in enumerate((0.6, 1.0, 1.0, 1.0)):
        write_results(tmp_path / f"r{seed}", seed=seed, metrics={"eval_accuracy": acc})
    (group,) = aggregate_runs(load_results([tmp_path]), by=["config_name"]).groups
    stats = group.stats("eval_accuracy")
    assert stats["ci95_high"] == 1.0 and stats["ci95_low"] == pytest.approx(0.9 - 0.3182446)


def test_group_by_top_level_fields_and_seed(tmp_path):
    write_results(tmp_path / "x1", seed=1, metrics={"acc": 0.1}, config_name="x")
    write_results(tmp_path / "x2", seed=2, metrics={"acc": 0.3}, config_name="x")
    write_results(tmp_path / "y1", seed=1, metrics={"acc": 0.5}, config_name="y")
    runs = load_results([tmp_path])
    by_config = aggregate_runs(runs)  # default: config_name
    assert [group.key["config_name"] for group in by_config.groups] == ["x", "y"]
    assert by_config.groups[0].stats("acc")["mean"] == pytest.approx(0.2)
    by_seed = aggregate_runs(runs, by=["seed"])
    assert [group.key["seed"] for group in by_seed.groups] == [1, 2]
    assert by_seed.groups[0].stats("acc")["mean"] == pytest.approx(0.3)
    with pytest.raises(UserError, match="--by no_such_field"):
        aggregate_runs(runs, by=["no_such_field"])


def test_aggregate_command_writes_table_csv_plot_and_json(tmp_path, capsys):
    runs = tmp_path / "runs"
    for seed, accuracy in enumerate((1.0, 2.0, 3.0, 4.0), start=1):
        metrics = {"answer_accuracy": accuracy, "loss": 1.0}
        write_results(runs / f"seed{seed}", seed=seed, metrics=metrics, reference=5.0)
    write_results(runs / "lost", seed=9, metrics={"answer_accuracy": 2.0}, config_name="other")
    plot = tmp_path / "figures" / "agg.png"
    argv = ["aggregate", str(runs), "--metric", "answer_accuracy", "--metric", "loss"]
    code, summary, out, err = run_cli([*argv, "--plot", str(plot)], capsys)
    assert code == 0
    assert "| config_name | metric | n | mean |" in out
    quick = next(g for g in summary["groups"] if g["key"] == {"config_name": "quick"})
    accuracy = quick["metrics"]["answer_accuracy"]
    assert accuracy["n"] == 4 and accuracy["mean"] == 2.5 and accuracy["reference"] == 5.0
    assert accuracy["ci95_high"] == pytest.approx(4.5542603, abs=1e-6)
    assert quick["metrics"]["loss"]["std"] == 0.0
    other = next(g for g in summary["groups"] if g["key"] == {"config_name": "other"})
    assert other["metrics"]["answer_accuracy"]["std"] is None
    assert other["metrics"]["answer_accuracy"]["ci95_low"] is None
    assert summary["missing"] == [{"run": str(runs / "lost"), "metric": "loss", "reason": "absent"}]
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
    with open(tmp_path / "figures" / "aggregate.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4  # 2 groups x 2 metrics
    quick_row = next(r for r in rows if r["config_name"] == "quick" and r["metric"] == "loss")
    assert float(quick_row["mean"]) == 1.0 and quick_row["n"] == "4"


def test_default_outputs_go_to_the_first_folder(tmp_path, capsys):
    write_results(tmp_path / "r1", seed=1, metrics={"acc": 0.5, "flag": True, "note": "x"})
    code, summary, _, _ = run_cli(["aggregate", str(tmp_path)], capsys)
    assert code == 0
    assert list(summary["groups"][0]["metrics"]) == ["acc"]  # numeric metrics only
    assert (tmp_path / "aggregate.csv").is_file()
    assert (tmp_path / "aggregate.png").read_bytes().startswith(PNG_SIGNATURE)


def test_user_errors_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, _, err = run_cli(["aggregate", str(empty)], capsys)
    assert code == 2 and "no results.json" in err
    write_results(tmp_path / "r1", seed=1, metrics={"acc": 0.5})
    code, _, _, err = run_cli(["aggregate", str(tmp_path), "--metric", "acc_typo"], capsys)
    assert code == 2 and "--metric acc_typo" in err and "acc" in err
    code, _, _, err = run_cli(["aggregate", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "no such folder" in err
