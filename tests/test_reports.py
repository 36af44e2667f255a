"""Run reports and run comparisons, on run folders written by hand the way training writes them."""

import json
import struct

import pytest

import latent_lab.cli
from latent_lab.analysis.compare_runs import (
    best_runs,
    differing_config_keys,
    headline_metric,
    write_comparison,
)
from latent_lab.analysis.loss_curves import loss_curve_figure
from latent_lab.analysis.run_files import load_run
from latent_lab.analysis.run_report import write_run_report
from latent_lab.errors import UserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

BASE_CONFIG = {
    "stream": "config/stream.yaml",
    "learning_rate": 1e-3,
    "max_steps": 200,
    "hidden_size": 128,
    "model_type": "gpt2",
    "lr_scheduler_kwargs": {"min_lr": 1e-4},
}


def write_run(folder, run_name, accuracy, eval_loss, config_changes=None, samples=None):
    """A run folder as training leaves it: results.json and trainer_state.json."""
    folder.mkdir(parents=True)
    config = {**BASE_CONFIG, **(config_changes or {}), "output_dir": str(folder)}
    results = {
        "task": "char_stream",
        "config_name": "basic",
        "config_path": "config/basic.yaml",
        "run_name": run_name,
        "seed": 1337,
        "model_type": "gpt2",
        "num_parameters": 802_560,
        "metrics": {
            "eval_loss": eval_loss,
            "train_loss": eval_loss + 0.1,
            "answer_accuracy": accuracy,
            "epoch": 1.0,  # Trainer's progress counters: not results, left out of tables
            "train_runtime": 11.9,
            "eval_samples_per_second": 40.8,
        },
        "reference": {"best_answer_accuracy": 1.0, "bayes_loss": 0.4321},
        "reference_for": {"answer_accuracy": "best_answer_accuracy", "eval_loss": "bayes_loss"},
        "wall_time_s": 12.5,
        "versions": {"transformers": "5.0.0"},
        "config": config,
        "output_dir": str(folder),
    }
    if samples is not None:
        results["samples"] = samples
    history = []  # curves that end at the final metrics
    for step in (50, 100, 150, 200):
        remaining = (200 - step) / 100
        history.append({"loss": eval_loss + 0.1 + remaining, "learning_rate": 1e-3, "step": step})
        history.append(
            {
                "eval_loss": eval_loss + remaining,
                "eval_answer_accuracy": accuracy * step / 200,
                "step": step,
            }
        )
    history.append({"train_loss": 1.2, "train_runtime": 12.0, "step": 200})
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    return folder


def assert_valid_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # IHDR: the image's size
    assert width > 100 and height > 100
    assert len(data) > 5000  # a drawn plot, not an empty canvas


def run_cli(monkeypatch, argv):
    monkeypatch.setattr(latent_lab.cli, "COMMAND_MODULES", ("report", "init"))
    return latent_lab.cli.main(argv)


def test_run_report_has_metrics_references_samples_and_config(tmp_path):
    run = write_run(tmp_path / "basic", "basic", 0.87, 0.55, samples=["cab: c a b\nab: a b"])
    report = write_run_report(run)
    assert report == run / "report.md"
    text = report.read_text()
    assert text.startswith("# Run report: basic")
    assert "- **Task:** char_stream" in text
    assert "- **Parameters:** 802,560" in text
    assert "| answer_accuracy | 0.87 | 1 (best_answer_accuracy) | -0.13 |" in text
    assert "| eval_loss | 0.55 | 0.4321 (bayes_loss) | 0.1179 |" in text
    # headline metric first, then the rest
    assert text.index("| answer_accuracy") < text.index("| eval_loss") < text.index("| train_loss")
    assert "![Training and evaluation loss](loss_curve.png)" in text
    for counter in ("epoch", "train_runtime", "eval_samples_per_second"):
        assert f"| {counter} |" not in text
    assert "```text\ncab: c a b\nab: a b\n```" in text
    assert "<details>" in text and "- `learning_rate`: `0.001`" in text
    assert '- `lr_scheduler_kwargs`: `{"min_lr": 0.0001}`' in text
    assert_valid_png(run / "loss_curve.png")


def test_run_report_without_training_log_or_samples(tmp_path):
    run = write_run(tmp_path / "basic", "basic", 0.5, 1.0)
    (run / "trainer_state.json").unlink()
    text = write_run_report(run, tmp_path / "elsewhere").read_text()
    assert "## Samples" not in text
    assert_valid_png(tmp_path / "elsewhere" / "loss_curve.png")
    assert not (run / "report.md").exists()


def test_log_history_falls_back_to_latest_checkpoint(tmp_path):
    run = write_run(tmp_path / "basic", "basic", 0.5, 1.0)
    state = (run / "trainer_state.json").read_text()
    (run / "trainer_state.json").unlink()
    for step, history in ((100, []), (200, json.loads(state)["log_history"])):
        (run / f"checkpoint-{step}").mkdir()
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text(
            json.dumps({"log_history": history})
        )
    steps, values = load_run(run).series("eval_loss")
    assert steps == [50, 100, 150, 200]
    assert values == pytest.approx([2.5, 2.0, 1.5, 1.0])


def test_curves_overlay_runs_with_dashed_reference_lines(tmp_path):
    runs = [
        load_run(write_run(tmp_path / "basic", "basic", 0.62, 0.71)),
        load_run(write_run(tmp_path / "wider", "wider", 0.91, 0.52, {"hidden_size": 256})),
    ]
    loss_axes, accuracy_axes = loss_curve_figure(runs).axes
    loss_lines = {line.get_label(): line for line in loss_axes.get_lines()}
    assert set(loss_lines) == {
        "basic: train loss",
        "basic: eval loss",
        "wider: train loss",
        "wider: eval loss",
        "bayes_loss = 0.4321",  # shared by both runs: drawn once
    }
    assert list(loss_lines["wider: eval loss"].get_xdata()) == [50, 100, 150, 200]
    assert loss_lines["wider: eval loss"].get_ydata()[-1] == pytest.approx(0.52)
    reference = loss_lines["bayes_loss = 0.4321"]
    assert reference.get_linestyle() == "--"
    assert list(reference.get_ydata()) == [0.4321, 0.4321]
    accuracy_labels = {line.get_label() for line in accuracy_axes.get_lines()}
    assert accuracy_labels == {
        "basic: eval_answer_accuracy",
        "wider: eval_answer_accuracy",
        "best_answer_accuracy = 1",
    }


def _legend_is_beside_panel(axes) -> bool:
    renderer = axes.figure.canvas.get_renderer()
    axes.figure.draw(renderer)
    legend = axes.get_legend().get_window_extent(renderer)
    return legend.x0 >= axes.get_window_extent(renderer).x1


def test_many_runs_put_the_legend_beside_the_curves(tmp_path):
    few = [load_run(write_run(tmp_path / f"few{i}", f"few{i}", 0.5, 0.7)) for i in range(2)]
    many = [load_run(write_run(tmp_path / f"run{i}", f"run{i}", 0.5, 0.7)) for i in range(10)]
    assert not _legend_is_beside_panel(loss_curve_figure(few).axes[0])
    figure = loss_curve_figure(many)
    assert figure.get_size_inches()[0] > loss_curve_figure(few).get_size_inches()[0]
    assert _legend_is_beside_panel(figure.axes[0])  # 20 curves + the reference line
    assert _legend_is_beside_panel(figure.axes[1])  # 10 accuracy curves + the reference line


def test_comparison_lists_only_the_changed_config_and_names_the_best_run(tmp_path):
    basic = write_run(tmp_path / "out" / "basic", "basic", 0.62, 0.71)
    wider = write_run(tmp_path / "out" / "wider", "wider", 0.91, 0.52, {"hidden_size": 256})
    report = write_comparison([basic, wider], tmp_path / "reports")
    text = report.read_text()
    assert report == tmp_path / "reports" / "comparison.md"
    assert "| config field | basic | wider |" in text
    assert "| `hidden_size` | 128 | 256 |" in text
    for unchanged in ("learning_rate", "max_steps", "stream", "model_type", "output_dir"):
        assert f"`{unchanged}`" not in text
    assert "| answer_accuracy | 0.62 | 0.91 | 1 (best_answer_accuracy) |" in text
    assert "| eval_loss | 0.71 | 0.52 | 0.4321 (bayes_loss) |" in text
    assert (
        "Best on `answer_accuracy` (higher is better): **wider** with 0.91 (vs basic 0.62)." in text
    )
    assert "`../out/basic`" in text
    assert "![Loss curves of all runs](comparison_loss_curve.png)" in text
    assert_valid_png(tmp_path / "reports" / "comparison_loss_curve.png")


def test_headline_falls_back_to_eval_loss_where_lower_is_better(tmp_path):
    runs = [
        load_run(write_run(tmp_path / name, name, 0.5, loss))
        for name, loss in (("a", 0.9), ("b", 0.3), ("c", 0.6))
    ]
    for run in runs:
        del run.results["metrics"]["answer_accuracy"]
    assert headline_metric(runs) == "eval_loss"
    assert [run.label for run in best_runs(runs, "eval_loss")] == ["b"]


def test_identical_configs_differ_in_nothing_and_missing_keys_count(tmp_path):
    a = load_run(write_run(tmp_path / "a", "a", 0.5, 1.0))
    b = load_run(write_run(tmp_path / "b", "b", 0.6, 0.9))
    assert differing_config_keys([a, b]) == []
    del b.results["config"]["max_steps"]
    assert differing_config_keys([a, b]) == ["max_steps"]


def test_colliding_run_names_fall_back_to_folder_names(tmp_path):
    first = write_run(tmp_path / "seed1", "basic", 0.5, 1.0, {"seed": 1})
    second = write_run(tmp_path / "seed2", "basic", 0.6, 0.9, {"seed": 2})
    text = write_comparison([first, second], tmp_path).read_text()
    assert "| `seed` | 1 | 2 |" in text
    assert "| config field | seed1 | seed2 |" in text


def test_missing_results_json_is_a_user_error_naming_the_folder(tmp_path):
    good = write_run(tmp_path / "good", "good", 0.5, 1.0)
    empty = tmp_path / "unfinished"
    empty.mkdir()
    with pytest.raises(UserError, match="unfinished: no results.json here; pass the --output_dir"):
        write_comparison([good, empty], tmp_path)
    assert not (tmp_path / "comparison.md").exists()


def test_report_command_single_run(tmp_path, monkeypatch, capsys):
    run = write_run(tmp_path / "basic", "basic", 0.8, 0.6)
    assert run_cli(monkeypatch, ["report", str(run)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["kind"] == "run"
    assert summary["files"] == [str(run / "report.md"), str(run / "loss_curve.png")]
    assert any(line.startswith("| answer_accuracy | 0.8 |") for line in out)


def test_report_command_several_runs_writes_into_common_parent(tmp_path, monkeypatch, capsys):
    basic = write_run(tmp_path / "out" / "basic", "basic", 0.6, 0.7)
    deeper = write_run(tmp_path / "out" / "deeper", "deeper", 0.7, 0.6, {"max_steps": 400})
    assert run_cli(monkeypatch, ["report", str(basic), str(deeper)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    out_dir = (tmp_path / "out").resolve()
    assert summary["kind"] == "comparison"
    assert summary["files"] == [
        str(out_dir / "comparison.md"),
        str(out_dir / "comparison_loss_curve.png"),
    ]
    assert summary["headline_metric"] == "answer_accuracy"
    assert summary["best_runs"] == [str(deeper)]
    assert "| `max_steps` | 200 | 400 |" in (out_dir / "comparison.md").read_text()


def test_report_command_missing_results_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    assert run_cli(monkeypatch, ["report", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"latent-lab report: error: {tmp_path}: no results.json here")


def test_a_tie_on_accuracy_is_broken_by_eval_loss(tmp_path):
    debug = write_run(tmp_path / "debug", "debug", 0.0, 1.57)
    narrow = write_run(tmp_path / "narrow", "narrow", 0.0, 1.86, {"hidden_size": 64})
    text = write_comparison([debug, narrow], tmp_path).read_text()
    assert (
        "Tied on `answer_accuracy` (higher is better): **debug**, **narrow** with 0. "
        "Tie broken by `eval_loss` (lower is better): **debug** with 1.57 (vs narrow 1.86)."
    ) in text
