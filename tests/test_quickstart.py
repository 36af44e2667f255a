"""The quickstart's table, progress lines, JSON rows and learning-curve figure, from finished
runs' records (the demo runs themselves: `make demo`; a slow test runs one)."""

import json

import pytest

from latent_lab.commands.quickstart import headline_row, markdown_table, progress_line
from latent_lab.commands.quickstart_plot import headline_curve, plot_learning_curves


def fake_run(folder, metric, values, reference, baseline):
    folder.mkdir(parents=True)
    history = [{"step": 10 * (i + 1), metric: value} for i, value in enumerate(values)]
    history.append({"step": 30, "loss": 1.0})  # a training log line: no headline metric
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    return {
        "metrics": {metric: values[-1]}, "reference": {"opt": reference},
        "reference_for": {metric: "opt"}, "baseline": {"base": baseline},
        "baseline_for": {metric: "base"}, "model_type": "lstm", "num_parameters": 1234,
        "wall_time_s": 12.5,
    }  # fmt: skip


def test_rows_table_and_progress_show_baseline_model_and_optimum(tmp_path):
    results = fake_run(tmp_path / "fsm_icl", "eval_accuracy", [0.4, 0.7], 0.9, 0.3)
    row = headline_row("fsm_icl", results)
    assert row["headline"] is True
    assert (row["baseline"], row["value"], row["reference"]) == (0.3, 0.7, 0.9)
    assert row["gap_closed"] == pytest.approx(0.4 / 0.6)
    table = markdown_table([row])
    assert (
        "| fsm_icl | lstm (1,234 params) | eval_accuracy | 0.3000 | 0.7000 | 0.9000 | 67% |"
        in table
    )
    assert progress_line(row).count("\n") == 0 and "67% of the gap" in progress_line(row)


def test_a_loss_headline_closes_its_gap_downwards(tmp_path):
    results = fake_run(tmp_path / "gssm", "eval_loss", [2.8, 2.2], 1.8, 2.9)
    assert headline_row("gssm", results)["gap_closed"] == pytest.approx(0.7 / 1.1)


def test_learning_curves_read_the_logged_evaluations(tmp_path):
    fsm = headline_row(
        "fsm_icl", fake_run(tmp_path / "fsm_icl", "eval_accuracy", [0.4, 0.7], 0.9, 0.3)
    )
    gssm = headline_row("gssm", fake_run(tmp_path / "gssm", "eval_loss", [2.8, 2.2], 1.8, 2.9))
    assert headline_curve(tmp_path / "fsm_icl", "eval_accuracy") == ([10, 20], [0.4, 0.7])
    path = plot_learning_curves([fsm, gssm], tmp_path, tmp_path / "quickstart.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
