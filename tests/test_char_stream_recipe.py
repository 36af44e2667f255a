"""The char-stream recipe end to end: a tiny training, results.json, report, sampling, resume."""

import json
import math
import os
import re
import sys
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
    reference = on_disk["reference"]
    assert reference["best_answer_accuracy"] == 1.0
    assert 0.3 < reference["reference_nll"] < on_disk["metrics"]["eval_loss"]
    assert 0.2 < reference["reference_accuracy"] < 1.0
    assert on_disk["reference_for"]["eval_scored_loss"] == "reference_nll"
    baseline = on_disk["baseline"]  # context-free: above the optimum, under a uniform guess
    assert reference["reference_nll"] < baseline["unigram_loss"] < math.log(128)
    assert on_disk["baseline_for"]["eval_scored_loss"] == "unigram_loss"
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


USER_STREAMS = """
def mirror(rng):
    word = "".join("ab"[i] for i in rng.integers(2, size=3))
    return word + "=" + word[::-1]

def broken(rng):
    return 1 / 0
"""


@pytest.fixture
def user_streams(tmp_path, monkeypatch):
    """mystreams.py in tmp_path, importable by a recipe process (PYTHONPATH) and this one."""
    (tmp_path / "mystreams.py").write_text(USER_STREAMS)
    paths = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mystreams", raising=False)
    return tmp_path


def test_function_stream_with_a_separator_end_to_end(user_streams):
    """Issue 10: a `module:function` stream needs `separator`, which the recipe now has."""
    out = user_streams / "out"
    argv = [*TINY, "--stream", "mystreams:mirror", "--separator", "=", "--output_dir", str(out)]
    results = run_recipe(argv)
    assert results["config"]["stream"] == "mystreams:mirror"
    assert results["config"]["separator"] == "="
    assert results["reference"] == {
        "best_answer_accuracy": 1.0,
        "reference_nll": None,
        "reference_accuracy": None,
    }
    assert "without a line_distribution hook" in results["reference_unavailable"]
    assert all(len(sample.split("=")[0]) == 3 for sample in results["samples"])


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        ("no_such_stream", "stream: unknown stream 'no_such_stream'"),
        # a missing module is named, not taken for a missing separator (issue 10)
        ("no_such_module_xyz:lines", "stream: cannot import 'no_such_module_xyz' (no module"),
        ("mystreams:broken", "stream: mystreams:broken raised ZeroDivisionError: division by "
         "zero (mystreams.py:7); fix the function"),
    ],
)  # fmt: skip
def test_stream_mistakes_are_exit_2_one_line_and_write_nothing(user_streams, stream, message):
    out = user_streams / "never"
    argv = [*TINY, "--stream", stream, "--output_dir", str(out)]
    if stream.endswith("broken"):
        argv += ["--separator", "="]
    proc = run_recipe_process("char_stream", argv, cwd=user_streams)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert "separator" not in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--max_steps", "-1"], "max_steps: char streams train for a number of steps"),
        (["--block_size", "64"], "max_position_embeddings: 32 < block_size 64"),
        (["--eval_num_windows", "0"], "eval_num_windows: must be >= 1"),
        (["--data_seed", "-1"], "data_seed: expected an integer >= 0"),
        (["--stream_options", "{max_len: 0}"], "stream_options: max_len must be >= 1"),
    ],
)
def test_arguments_are_checked_before_any_data_or_folder(tmp_path, monkeypatch, extra, message):
    from latent_lab.errors import UserError

    monkeypatch.setenv("LATENT_LAB_DATA_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "never"
    with pytest.raises(UserError, match=re.escape(message)):
        run_recipe([*TINY, *extra, "--output_dir", str(out)])
    assert not out.exists()
    assert not list(tmp_path.rglob("*.arrow"))  # no data (making a builder leaves a lock file)


@pytest.mark.parametrize(
    ("stream", "message"),
    [
        ("no_such_module_xyz:lines", "stream: cannot import 'no_such_module_xyz'"),
        ("missing_stream.yaml", "missing_stream.yaml"),
    ],
)
def test_check_arguments_opens_user_streams_before_any_data(tmp_path, stream, message):
    """A user stream's module is imported, or its template read, by check_arguments itself."""
    from latent_lab.errors import UserError
    from latent_lab.tasks.char_stream.run import check_arguments
    from recipes.char_stream import make_parser

    argv = [*TINY, "--stream", str(tmp_path / stream) if stream.endswith(".yaml") else stream]
    data_args, model_args, training_args, _ = make_parser().parse([*argv, "--separator", "="])
    with pytest.raises(UserError, match=re.escape(message)):
        check_arguments(data_args, model_args, training_args)


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
