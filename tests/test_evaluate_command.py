"""`latent-lab evaluate`: a finished run's saved model, scored again on its task's evaluation
splits by the eval-only path, reproduces every metric of its results.json (FSM: the Bayes
ceiling by seen/unseen; char streams: the per-character optimum and the exact-match answers);
its mistakes are one line, exit 2, with no folder left behind."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from recipe_processes import REPO

# Metrics that describe the process (time, steps), not the model on the data.
NOT_SCORES = ("runtime", "per_second", "epoch", "num_input_tokens_seen", "preparation_time",
              "train_", "total_flos")  # fmt: skip
TINY = {
    "fsm_icl": ["--num_train", "64", "--num_validation", "12", "--num_test", "10",
                "--max_steps", "4", "--save_strategy", "no", "--load_best_model_at_end",
                "false"],
    "char_stream": ["--num_chars", "6000", "--max_steps", "3", "--eval_num_windows", "16",
                    "--answer_eval_prompts", "8", "--hidden_size", "32",
                    "--num_hidden_layers", "1"],
}  # fmt: skip
DATA_FLAGS = {  # what the evaluation splits depend on: given again to `evaluate`
    "fsm_icl": ["--num_validation", "12", "--num_test", "10"],
    "char_stream": ["--num_chars", "6000", "--eval_num_windows", "16",
                    "--answer_eval_prompts", "8"],
}  # fmt: skip


def latent_lab(*argv, cwd):
    script = Path(sys.executable).parent / "latent-lab"  # the installed command
    return subprocess.run([str(script), *argv], capture_output=True, text=True, cwd=cwd,
                          timeout=900)  # fmt: skip


def scores(metrics: dict) -> dict:
    return {name: value for name, value in metrics.items()
            if not any(part in name for part in NOT_SCORES)}  # fmt: skip


@pytest.mark.parametrize("task", sorted(TINY))
def test_evaluate_reproduces_a_finished_quick_runs_metrics(task, tmp_path):
    run_dir = tmp_path / "run"
    trained = subprocess.run(
        [sys.executable, str(REPO / "recipes" / f"{task}.py"), "--config", "quick", *TINY[task],
         "--output_dir", str(run_dir), "--seed", "2"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    results = json.loads((run_dir / "results.json").read_text())

    out = tmp_path / "evaluated"
    argv = ["--model", str(run_dir), "--task", task, "--config", "quick", "--output-dir", str(out)]
    process = latent_lab("evaluate", *argv, *DATA_FLAGS[task], cwd=tmp_path)
    assert process.returncode == 0, process.stderr[-2000:]
    summary = json.loads(process.stdout.strip().splitlines()[-1])
    expected = scores(results["metrics"])
    assert len(expected) >= 6
    assert scores(summary["metrics"]) == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert summary["reference"] == pytest.approx(results["reference"])
    again = json.loads((out / "results.json").read_text())
    assert again["config"]["evaluate_model"] == str(run_dir)
    assert (out / "positions.parquet").is_file() and not (out / "model.safetensors").exists()


def test_evaluate_mistakes_are_one_line(tmp_path):
    cases = [
        (["--model", str(tmp_path / "missing"), "--task", "fsm_icl", "--config", "quick"],
         "evaluate_model"),
        (["--model", str(tmp_path), "--task", "fsm_icl", "--config", "quick"],
         "evaluate_model"),
        (["--model", "x", "--task", "nope", "--config", "quick"], "unknown task"),
    ]  # fmt: skip
    for argv, field in cases:
        process = latent_lab("evaluate", *argv, "--output-dir", str(tmp_path / "out"),
                             cwd=tmp_path)  # fmt: skip
        lines = process.stderr.strip().splitlines()
        assert process.returncode == 2, process.stderr[-2000:]
        assert len(lines) == 1 and field in lines[0], lines
        assert not (tmp_path / "out").exists()
