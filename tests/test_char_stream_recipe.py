"""The char-stream recipe end to end: a tiny training, results.json, report, sampling, resume."""

import json
from pathlib import Path

import pytest
from recipe_processes import run_recipe_process

from latent_lab.cli import main as cli_main

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--config", "quick",
    "--num_chars", "6000",
    "--max_steps", "4",
    "--eval_steps", "2",
    "--logging_steps", "1",
    "--eval_num_windows", "16",
    "--answer_eval_prompts", "8",
    "--hidden_size", "32",
    "--num_hidden_layers", "1",
]  # fmt: skip


def run_recipe(argv):
    from recipes.char_stream import main, make_parser

    return main(*make_parser().parse(argv))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("run") / "out"
    results = run_recipe([*TINY, "--output_dir", str(output_dir), "--seed", "3"])
    return output_dir, results


def test_results_json_has_the_contract_fields(finished_run):
    output_dir, results = finished_run
    on_disk = json.loads((output_dir / "results.json").read_text())
    assert on_disk == json.loads(json.dumps(results))
    for key in ("task", "config_name", "seed", "model_type", "num_parameters", "metrics",
                "reference", "wall_time_s", "versions"):  # fmt: skip
        assert key in on_disk, key
    assert on_disk["task"] == "char_stream"
    assert on_disk["config_name"] == "quick"
    assert on_disk["seed"] == 3
    assert on_disk["reference"] == {"best_answer_accuracy": 1.0}
    assert 0.0 <= on_disk["metrics"]["answer_accuracy"] <= 1.0
    assert on_disk["metrics"]["eval_loss"] > 0
    assert "hub_token" not in on_disk["config"]


def test_run_saves_model_tokenizer_report(finished_run):
    output_dir, _ = finished_run
    for name in ("config.json", "model.safetensors", "tokenizer.json", "trainer_state.json",
                 "report.md", "loss_curve.png"):  # fmt: skip
        assert (output_dir / name).is_file(), name
    history = json.loads((output_dir / "trainer_state.json").read_text())["log_history"]
    assert [h["step"] for h in history if "answer_accuracy" in h] == [2, 4]


def test_same_seed_same_metrics_on_cpu(finished_run, tmp_path):
    _, first = finished_run
    again = run_recipe([*TINY, "--output_dir", str(tmp_path / "again"), "--seed", "3"])
    assert again["metrics"]["eval_loss"] == first["metrics"]["eval_loss"]
    assert again["metrics"]["train_loss"] == first["metrics"]["train_loss"]


def test_sample_command_is_deterministic(finished_run, capsys):
    output_dir, _ = finished_run
    argv = ["sample", "--model", str(output_dir), "--prompt", "ab: ", "--num-samples", "2",
            "--max-new-tokens", "40", "--seed", "5"]  # fmt: skip
    assert cli_main(argv) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert cli_main(argv) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first == second
    assert len(first["samples"]) == 2 and all(s.startswith("ab: ") for s in first["samples"])


def test_sample_rejects_characters_outside_the_vocabulary(finished_run, capsys):
    output_dir, _ = finished_run
    assert cli_main(["sample", "--model", str(output_dir), "--prompt", "xyz"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--prompt" in err


def test_sample_missing_model_dir(tmp_path, capsys):
    assert cli_main(["sample", "--model", str(tmp_path / "nope"), "--prompt", "a"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--model" in err


def test_resume_continues_from_the_last_checkpoint(tmp_path):
    """An interrupted run resumed with --resume ends exactly where the uninterrupted run did."""
    import shutil

    out = tmp_path / "resumable"
    argv = [*TINY, "--output_dir", str(out), "--save_strategy", "steps", "--save_steps", "2"]
    uninterrupted = run_recipe(argv)
    losses = _train_losses(out)
    # Simulate a crash after step 2: only checkpoint-2 survives.
    shutil.rmtree(out / "checkpoint-4")
    (out / "results.json").unlink()
    resumed = run_recipe([*argv, "--resume", "true"])
    assert _train_losses(out) == losses
    assert resumed["metrics"]["eval_loss"] == uninterrupted["metrics"]["eval_loss"]


def _train_losses(run_dir):
    history = json.loads((run_dir / "trainer_state.json").read_text())["log_history"]
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def test_unknown_stream_is_exit_2_and_writes_nothing(tmp_path):
    out = tmp_path / "never"
    argv = [*TINY, "--stream", "no_such_stream", "--output_dir", str(out)]
    proc = run_recipe_process("char_stream", argv, cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "stream" in proc.stderr
    assert not out.exists()


def test_two_process_torchrun_on_cpu(tmp_path):
    out = tmp_path / "ddp"
    proc = run_recipe_process(
        "char_stream", [*TINY, "--output_dir", str(out)], processes=2, cwd=tmp_path, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"]["answer_accuracy"] >= 0.0
    # The JSON summary line is printed once, by the main process (Trainer's own
    # log lines are Python dict reprs, not JSON, so they do not count).
    summaries = [line for line in proc.stdout.splitlines() if _is_json_object(line)]
    assert len(summaries) == 1


def _is_json_object(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
