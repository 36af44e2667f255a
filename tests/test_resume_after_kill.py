"""Resume after a hard kill: SIGKILL a training run once its first checkpoint exists, resume it
with --resume true, and it ends with the same weights as a run that was never interrupted."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

REPO = Path(__file__).resolve().parents[1]
RUNS = {
    # GSSM on the fly: an endless IterableDataset, so resuming must replay the stream's position
    "gssm": ["--config", "quick", "--seq_len", "16", "--num_validation", "4",
             "--hidden_size", "16", "--max_position_embeddings", "17"],
    # char stream: random windows, so resuming must restore the sampler's order
    "char_stream": ["--config", "quick", "--num_chars", "6000", "--hidden_size", "16",
                    "--num_hidden_layers", "1", "--eval_num_windows", "8",
                    "--answer_eval_prompts", "4", "--num_report_samples", "1"],
}  # fmt: skip
COMMON = ["--max_steps", "120", "--save_strategy", "steps", "--save_steps", "10",
          "--eval_strategy", "no", "--logging_steps", "50", "--seed", "5"]  # fmt: skip


def command(task: str, output_dir: Path, *extra: str) -> list[str]:
    script = str(REPO / "recipes" / f"{task}.py")
    return [sys.executable, script, *RUNS[task], *COMMON, "--output_dir", str(output_dir), *extra]


def complete_checkpoint(output_dir: Path) -> bool:
    """A checkpoint whose trainer_state.json (written last) parses."""
    for state in output_dir.glob("checkpoint-*/trainer_state.json"):
        try:
            json.loads(state.read_text())
            return True
        except ValueError:
            continue
    return False


def kill_after_first_checkpoint(cmd: list[str], output_dir: Path, cwd: Path) -> None:
    process = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not complete_checkpoint(output_dir):
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no checkpoint within 300 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL
    assert not (output_dir / "results.json").exists()  # killed mid-run, not after it


@pytest.mark.parametrize("task", sorted(RUNS))
def test_resume_after_sigkill_gives_identical_weights(task, tmp_path):
    uninterrupted, killed = tmp_path / "uninterrupted", tmp_path / "killed"
    done = subprocess.run(command(task, uninterrupted), cwd=tmp_path, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    kill_after_first_checkpoint(command(task, killed), killed, tmp_path)
    resumed = subprocess.run(
        command(task, killed, "--resume", "true"), cwd=tmp_path, capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    expected = load_file(uninterrupted / "model.safetensors")
    weights = load_file(killed / "model.safetensors")
    assert expected.keys() == weights.keys()
    for name, tensor in expected.items():
        assert torch.equal(weights[name], tensor), name
    # The per-position records survive the kill: the evaluations before the checkpoint come
    # from the killed run's file, the later ones from the resumed run, the same as uninterrupted.
    before = pd.read_parquet(uninterrupted / "positions.parquet")
    after = pd.read_parquet(killed / "positions.parquet")
    assert before["step"].min() < 10 <= before["step"].max()  # records on both sides of the kill
    pd.testing.assert_frame_equal(after, before)


def test_resume_skips_a_checkpoint_killed_while_saving(tmp_path):
    from latent_lab.training.runner import last_checkpoint

    complete = '{"global_step": 0}'
    for step, state in ((2, complete), (4, complete), (8, '{"global_st'), (12, None)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        if state is not None:
            (folder / "trainer_state.json").write_text(state)
    (tmp_path / "checkpoint-x").mkdir()
    assert last_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-4")
    assert last_checkpoint(str(tmp_path / "missing")) is None
