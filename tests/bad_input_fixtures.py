"""What a bad-input case finds in its working folder before it runs (tests/test_bad_input.py):
each name below writes a few small files, the way a user's folder would look."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

KEEP = "a file of the user's; it must survive every command\n"


def user_file(folder: Path) -> None:
    """F: an existing file that an output path names, or lies below."""
    (folder / "F").write_text(KEEP)


def read_only_folder(folder: Path) -> None:
    """RO: a folder nobody (but root) may write into."""
    (folder / "RO").mkdir()
    (folder / "RO").chmod(0o500)


def _run(folder: Path, name: str, model_type: str, seed: int, accuracy: float) -> None:
    run = folder / "runs" / name
    run.mkdir(parents=True)
    results = {
        "task": "fsm_icl",
        "config_name": name.rsplit("-", 1)[0],
        "seed": seed,
        "model_type": model_type,
        "num_parameters": 1000,
        "metrics": {"eval_accuracy": accuracy},
        "reference": {},
        "config": {"learning_rate": 0.01, "model_type": model_type},
    }
    (run / "results.json").write_text(json.dumps(results))
    (run / "config.json").write_text(json.dumps({"model_type": model_type}))
    (run / "model.safetensors").write_bytes(b"")  # a saved model, as far as a check looks


def finished_runs(folder: Path) -> None:
    """runs/: four finished-looking runs (two model types x two seeds), results.json only."""
    for seed in (1, 2):
        _run(folder, f"lstm-seed{seed}", "lstm", seed, 0.5 + seed / 10)
        _run(folder, f"gpt2-seed{seed}", "gpt2", seed, 0.4 + seed / 10)


def model_folder_without_config(folder: Path) -> None:
    """M: a folder that holds no saved model."""
    (folder / "M").mkdir()
    (folder / "M" / "notes.txt").write_text("not a model\n")


def _probe_run(folder: Path, results_text: str) -> None:
    run = folder / "RUN"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model_type": "lstm", "vocab_size": 24}))
    (run / "results.json").write_text(results_text)


def truncated_results(folder: Path) -> None:
    """RUN: a run folder whose results.json was cut off mid-write (a killed copy, a full disk)."""
    _probe_run(folder, '{"task": "fsm_icl", "config_name": "quick", "metr')


def results_without_config(folder: Path) -> None:
    """RUN: a run folder whose results.json has no `config` (written by hand, or an old run)."""
    _probe_run(
        folder,
        json.dumps(
            {
                "task": "fsm_icl",
                "config_name": "quick",
                "seed": 1,
                "metrics": {"eval_accuracy": 0.5},
            }
        ),
    )


USER_STREAMS = '''
def lines(rng, max_value=20):
    """a + b = c lines."""
    a, b = (int(v) for v in rng.integers(0, max_value, size=2))
    return f"{a}+{b}={a + b}"


def broken(rng):
    return {"not": "a line"}["line"]  # KeyError, as a user's bug would be
'''


def user_stream_module(folder: Path) -> None:
    """user_streams.py: a stream function that works and one that raises."""
    (folder / "user_streams.py").write_text(USER_STREAMS)


def huge_graph(folder: Path) -> None:
    """huge.yaml: 20 latents of 16 states, all parents of X: 16**20 joint states, more than
    numpy's int64 can index."""
    latents = [{"name": f"Z{i}", "state_dim": 16, "parents": ["X"]} for i in range(1, 21)]
    observed = {"name": "X", "state_dim": 8, "parents": [node["name"] for node in latents]}
    graph = {"gssm": [*latents, observed], "alpha_X": 1.0e-3, "alpha_Z": 0.1}
    (folder / "huge.yaml").write_text(yaml.safe_dump(graph))


def chain_graph(folder: Path) -> None:
    """chain.yaml: six 16-state latents in a chain: small kernels, but 16**6 joint states, more
    than the exact filter tracks."""
    latents = [
        {"name": f"Z{i}", "state_dim": 16, "parents": [f"Z{i - 1}"] if i > 1 else ["X"]}
        for i in range(1, 7)
    ]
    graph = {
        "gssm": [*latents, {"name": "X", "state_dim": 8, "parents": ["Z6"]}],
        "alpha_X": 1.0e-3,
        "alpha_Z": 0.1,
    }
    (folder / "chain.yaml").write_text(yaml.safe_dump(graph))


def _grid(folder: Path, **fields) -> None:
    grid = {"recipe": "fsm_icl", "config": "quick", "seeds": [1, 2], "output_dir": "grid_out"}
    grid.update(fields)
    (folder / "grid.yaml").write_text(yaml.safe_dump(grid, sort_keys=False))


def grid_wrong_type(folder: Path) -> None:
    """grid.yaml: a learning rate that is not a number."""
    _grid(folder, grid={"learning_rate": [1.0e-3, "fast"]})


def grid_list_for_number(folder: Path) -> None:
    """grid.yaml: a list where a number belongs (argparse converts only text)."""
    _grid(folder, grid={"hidden_size": [[32, 64]]})


def grid_bad_seeds(folder: Path) -> None:
    _grid(folder, seeds=[1, "two"])


def grid_unknown_recipe(folder: Path) -> None:
    _grid(folder, recipe="fsm_icll")


def grid_output_is_file(folder: Path) -> None:
    user_file(folder)
    _grid(folder, output_dir="F")


def bad_yaml_config(folder: Path) -> None:
    (folder / "bad.yaml").write_text("learning_rate: [1e-3\nmax_steps: 2\n")


def unknown_key_config(folder: Path) -> None:
    (folder / "typo.yaml").write_text("dataset: 3s3a\nlearning_rte: 1.0e-3\n")


def list_for_number_config(folder: Path) -> None:
    (folder / "lists.yaml").write_text("dataset: 3s3a\nlearning_rate: [1.0e-3, 1.0e-2]\n")


def float_for_integer_config(folder: Path) -> None:
    """YAML reads 1.6e+1 as the float 16.0; Trainer would fail on it after the data is built."""
    (folder / "floats.yaml").write_text("dataset: 3s3a\nper_device_train_batch_size: 1.6e+1\n")


def scalar_thresholds_config(folder: Path) -> None:
    (folder / "scalar.yaml").write_text("dataset: 3s3a\nexcess_thresholds: 0.1\n")


def experiment_folder(folder: Path) -> None:
    (folder / "exp").mkdir()


SETUPS = {
    "file": user_file,
    "readonly": read_only_folder,
    "runs": finished_runs,
    "no_model": model_folder_without_config,
    "truncated_results": truncated_results,
    "results_without_config": results_without_config,
    "user_streams": user_stream_module,
    "huge_graph": huge_graph,
    "grid_wrong_type": grid_wrong_type,
    "grid_bad_seeds": grid_bad_seeds,
    "grid_unknown_recipe": grid_unknown_recipe,
    "grid_output_is_file": grid_output_is_file,
    "bad_yaml": bad_yaml_config,
    "unknown_key": unknown_key_config,
    "experiment": experiment_folder,
    "chain_graph": chain_graph,
    "grid_list_for_number": grid_list_for_number,
    "list_for_number": list_for_number_config,
    "float_for_integer": float_for_integer_config,
    "scalar_thresholds": scalar_thresholds_config,
}


def prepare(folder: Path, names) -> None:
    folder.mkdir(parents=True)
    for name in names:
        SETUPS[name](folder)


def unlock(folder: Path) -> None:
    """Give back write permission, so the folder can be removed."""
    for root, dirs, _ in os.walk(folder):
        for name in dirs:
            os.chmod(Path(root) / name, 0o755)
