"""bench/gpu_suite.sh (issue 15, item 4): without a GPU it stops at once with exit 2; --smoke
runs every part on the CPU and ends stdout with the table and a JSON line of the figures; the
table's rows and the timing callback's stop at a target, which only a GPU run reaches, are
checked on canned inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_suite.sh"
sys.path.insert(0, str(REPO / "bench"))

PART_KEYS = {
    "fsm": ("fsm_tokens_per_s", "fsm_time_to_target_s", "fsm_best_accuracy_seen"),
    "gssm": ("gssm_tokens_per_s", "gssm_excess_loss", "gssm_bayes_loss", "gssm_steps"),
    "filter": ("filter_median_s", "filter_shape", "filter_threads"),
    "recipe_vs_loop": ("recipe_tokens_per_s", "loop_tokens_per_s", "recipe_over_loop"),
}
ROW_NAMES = ("FSM phase-1.1 training", "FSM time to val accuracy_seen 0.99",
             "GSSM exp. 1 training", "GSSM exp. 1 excess_loss", "exact filter",
             "char-stream recipe (Trainer)", "hand-written loop", "recipe / loop")  # fmt: skip


def run_suite(*args, env_extra=None, timeout=60, out=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", **(env_extra or {})}
    env.pop("OUT", None)
    if out is not None:
        env["OUT"] = str(out)
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=REPO)  # fmt: skip


def test_without_a_gpu_it_exits_2_with_one_line():
    done = run_suite(env_extra={"CUDA_VISIBLE_DEVICES": ""}, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs a CUDA GPU" in lines[0] and "--smoke" in lines[0]


def canned_figures(reached: bool) -> dict:
    figures = {"mode": "full", "device": "NVIDIA H200", "torch": "2.13.0", "transformers": "5.24",
               "precision": "float32", "suite_s": 412.0, "fsm_num_parameters": 1063424,
               "fsm_dtype": "float32", "fsm_tokens_per_s": 51234.5, "fsm_steps": 9000,
               "fsm_target": 0.99, "fsm_eval_steps": 375, "fsm_cap_s": 180.0,
               "fsm_stopped": "target" if reached else "cap", "fsm_train_s": 150.0,
               "fsm_eval_s": 30.0, "fsm_best_accuracy_seen": 0.9912 if reached else 0.97,
               "fsm_best_step": 6000, "gssm_batch": 16, "gssm_seq_len": 2048, "gssm_steps": 700,
               "gssm_max_steps": 1000, "gssm_stopped": "cap", "gssm_cap_s": 125.0,
               "gssm_num_parameters": 201664, "gssm_dtype": "float32",
               "gssm_attn_implementation": "sdpa", "gssm_tokens_per_s": 1.2e6,
               "gssm_excess_loss": 0.05, "gssm_bayes_loss": 1.77, "gssm_eval_loss": 1.82,
               "filter_shape": "1024x2048", "filter_median_s": 0.61, "filter_min_s": 0.6,
               "filter_max_s": 0.63, "filter_repeats": 5, "filter_threads": 16,
               "filter_device": "cpu (numba; the filter has no GPU path)",
               "recipe_vs_loop_error": "RuntimeError: boom"}  # fmt: skip
    figures.update(fsm_target_step=6000, fsm_target_epoch=8.0)
    figures["fsm_time_to_target_s"] = 95.5 if reached else None
    figures["fsm_train_time_to_target_s"] = 80.25 if reached else None
    return figures


@pytest.mark.parametrize("reached", [True, False])
def test_table_rows(reached):
    from gpu_suite_table import table

    text = table(canned_figures(reached), ["fsm", "gssm", "filter", "recipe_vs_loop"])
    assert "NVIDIA H200" in text.splitlines()[0]
    target_row = next(line for line in text.splitlines() if "accuracy_seen 0.99" in line)
    if reached:
        assert "95.5 (80.2)" in target_row and "step 6,000" in target_row
    else:
        assert "not reached" in target_row and "180 s cap" in target_row and "0.9700" in target_row
    assert "700 of 1,000 steps (stopped at the 125 s cap)" in text
    assert "recipe_vs_loop" in text and "FAILED" in text and "boom" in text


def test_stopwatch_stops_at_the_target_and_leaves_evaluations_out(monkeypatch):
    import gpu_suite_watch
    from transformers import TrainerControl

    clock = iter([0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 4.5, 5.0]).__next__
    monkeypatch.setattr(gpu_suite_watch.time, "perf_counter", clock)
    watch = gpu_suite_watch.Stopwatch(cap_s=100, metric="eval_accuracy_seen", target=0.99)
    control, state = TrainerControl(), SimpleNamespace(global_step=0, epoch=0.0)
    watch.on_train_begin(None, state, control)  # t 0
    state.global_step = 1
    watch.on_step_end(None, state, control)  # t 1
    watch.on_step_end(None, state, control)  # t 2, then evaluated until 2.5
    watch.on_evaluate(None, state, control, metrics={"eval_accuracy_seen": 0.5})
    assert not control.should_training_stop
    state.global_step, state.epoch = 2, 0.5
    watch.on_step_end(None, state, control)  # t 3, evaluated until 4
    watch.on_evaluate(None, state, control, metrics={"eval_accuracy_seen": 0.995})
    assert control.should_training_stop and watch.stopped == "target"
    assert watch.reached == {"step": 2, "wall_s": 3.0, "train_s": 2.5, "value": 0.995,
                             "epoch": 0.5}  # fmt: skip
    state.num_input_tokens_seen = 100
    watch.on_train_end(None, state, control)  # t 4.5
    assert watch.eval_s == pytest.approx(1.5) and watch.train_s == pytest.approx(3.0)
    watch.on_evaluate(None, state, control, metrics={"eval_accuracy_seen": 1.0})  # after training
    assert len(watch.evaluations) == 2


@pytest.mark.slow
def test_smoke_runs_every_part_on_the_cpu(tmp_path):
    done = run_suite("--smoke", timeout=900, out=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["failed_parts"] == [] and figures["mode"].startswith("smoke")
    for keys in PART_KEYS.values():
        for key in keys:
            assert key in figures, key
    assert figures["fsm_stopped"] in ("cap", "end") and figures["gssm_stopped"] == "end"
    assert figures["gssm_steps"] == figures["gssm_max_steps"] == 6
    assert figures["fsm_tokens_per_s"] > 0 and figures["recipe_over_loop"] > 0
    table = "\n".join(lines[:-1])
    for name in ROW_NAMES:
        assert name in table, name
    assert json.loads((tmp_path / "gpu_suite.json").read_text()) == figures
    assert "== recipe_vs_loop done" in (tmp_path / "gpu_suite.log").read_text()
