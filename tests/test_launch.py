"""Grids: validation (exit 2), Cartesian expansion and run names, the SLURM job-array script,
and real local launches (a stand-in recipe here; the char_stream recipe in the slow test)."""

import json
import os
import stat
import subprocess

import pytest
import yaml

import latent_lab.cli
from latent_lab.config import load_yaml, resolve_config
from latent_lab.launch.grid import expand_grid, format_value, load_grid, run_name_for

# A recipe with the make_parser() + main convention that trains nothing: it writes a
# results.json whose metric is a known function of its config, or fails when asked to.
STAND_IN_RECIPE = """
import json, os, sys
from pathlib import Path

import yaml

FIELDS = {"learning_rate": 0.1, "width": 1, "fail": False, "seed": 0, "run_name": "",
          "output_dir": ""}


def main(config_path):
    config = {**FIELDS, **yaml.safe_load(Path(config_path).read_text())}
    if config["fail"]:
        sys.exit("failing as the config asks")
    score = config["learning_rate"] * config["width"] + config["seed"]
    results = {"task": "stand_in", "config_name": "base", "seed": config["seed"],
               "metrics": {"score": score}, "reference": {"best_score": 100.0},
               "reference_for": {"score": "best_score"}, "config": config, "cwd": os.getcwd()}
    Path(config["output_dir"]).mkdir(parents=True, exist_ok=True)
    (Path(config["output_dir"]) / "results.json").write_text(json.dumps(results))
    print(json.dumps({"output_dir": config["output_dir"]}))


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--config") + 1])
"""


def run_cli(argv, capsys):
    code = latent_lab.cli.main(argv)
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return code, summary, captured.err


def write_grid(path, **fields):
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def char_stream_grid(tmp_path, **changes):
    fields = {
        "recipe": "char_stream",
        "config": "quick",
        "grid": {"learning_rate": [1.0e-3, 3.0e-3], "num_hidden_layers": [1, 2]},
        "seeds": [1, 2],
        "output_dir": str(tmp_path / "sweep"),
        "slurm": {"partition": "gpu", "time": "02:00:00", "gpus_per_task": 2},
    }
    fields.update(changes)
    return write_grid(tmp_path / "grid.yaml", **fields)


# The stand-in's fields, as a registered task's make_parser exposes them to the launcher.
STAND_IN_PARSER = """
class Parser:
    def known_keys(self):
        return {"learning_rate", "width", "fail", "seed", "run_name", "output_dir"}


    def parse_mapping(self, values, source):  # launch checks each task config before writing
        return values


def make_parser():
    return Parser()
"""


@pytest.fixture
def stand_in_recipes(tmp_path, monkeypatch):
    """A recipes folder holding the stand-in recipe and a base config, and a task registering
    the recipe's parser, used by the launcher."""
    from latent_lab.tasks import registry

    recipes = tmp_path / "repo" / "recipes"
    (recipes / "configs" / "stand_in").mkdir(parents=True)
    (recipes / "stand_in.py").write_text(STAND_IN_RECIPE)
    (recipes / "configs" / "stand_in" / "base.yaml").write_text("width: 2\n")
    (tmp_path / "stand_in_parser.py").write_text(STAND_IN_PARSER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LATENT_LAB_RECIPES", str(recipes))
    parsers = {"stand_in": "stand_in_parser:make_parser"}
    task = registry.Task("stand_in", "", "", (), (), "", "", (), recipes=parsers)
    tasks = {**registry.all_tasks(), "stand_in": task}
    monkeypatch.setattr(registry, "all_tasks", lambda: tasks)
    return recipes


def test_run_names_are_short_and_deterministic():
    assert run_name_for({"learning_rate": 1e-3}, 2) == "lr1e-3-seed2"
    assert run_name_for({"learning_rate": 3e-4, "max_steps": 200}, 1) == "lr3e-4-ms200-seed1"
    # keys sharing initials keep their full names
    assert run_name_for({"hidden_size": 64, "head_size": 8}, 0) == "hidden_size64-head_size8-seed0"
    assert [format_value(v) for v in (0.5, 1.0, 1e6, True, "a/b c", [1, 2])] == [
        "0.5",
        "1",
        "1e6",
        "true",
        "a_b_c",
        "1_2",
    ]


def test_expansion_writes_one_config_per_task(tmp_path):
    spec = load_grid(char_stream_grid(tmp_path))
    tasks = expand_grid(spec)
    assert len(tasks) == 8  # 2 x 2 values x 2 seeds, seeds innermost
    assert [task.run_name for task in tasks[:3]] == [
        "lr1e-3-nhl1-seed1",
        "lr1e-3-nhl1-seed2",
        "lr1e-3-nhl2-seed1",
    ]
    base = load_yaml(resolve_config("char_stream", "quick"))
    task = tasks[5]
    assert task.config == {
        **base,
        "learning_rate": 3e-3,
        "num_hidden_layers": 1,
        "seed": 2,
        "run_name": "lr3e-3-nhl1-seed2",
        "output_dir": str(tmp_path / "sweep" / "runs" / "lr3e-3-nhl1-seed2"),
        # seeds of one grid point share config_name (aggregate's default grouping) and W&B group
        "config_name": "quick/lr3e-3-nhl1",
        "wandb_group": "sweep/quick/lr3e-3-nhl1",
        # a task run again (a requeued SLURM task) continues from its last checkpoint
        "resume": True,
    }
    assert tasks[4].config["config_name"] == task.config["config_name"]
    assert [task.run_name for task in expand_grid(load_grid(tmp_path / "grid.yaml"))] == [
        task.run_name for task in tasks
    ]


def test_dry_run_slurm_writes_tasks_and_array_script(tmp_path, capsys):
    grid = char_stream_grid(tmp_path)
    code, summary, err = run_cli(["launch", str(grid), "--executor", "slurm", "--dry-run"], capsys)
    assert code == 0, err
    sweep = tmp_path / "sweep"
    assert summary["tasks"] == 8 and summary["ran"] == 0 and summary["skipped"] == 0
    assert summary["output_dir"] == str(sweep) and summary["submit_script"] == str(
        sweep / "submit.sh"
    )
    assert sorted(p.name for p in (sweep / "tasks").iterdir()) == [f"{i}.yaml" for i in range(8)]
    task_3 = yaml.safe_load((sweep / "tasks" / "3.yaml").read_text())
    assert (task_3["seed"], task_3["num_hidden_layers"], task_3["learning_rate"]) == (2, 2, 1e-3)
    script = (sweep / "submit.sh").read_text()
    lines = script.splitlines()
    assert "#SBATCH --array=0-7" in lines
    assert "#SBATCH --partition=gpu" in lines and "#SBATCH --time=02:00:00" in lines
    assert "#SBATCH --gres=gpu:2" in lines
    assert f"#SBATCH --output={sweep}/logs/%A_%a.out" in lines
    command = next(line for line in lines if line.startswith("accelerate launch"))
    assert "--num_processes 2" in command and "--multi_gpu" in command
    assert command.endswith(
        f"recipes/char_stream.py --config {sweep}/tasks/$SLURM_ARRAY_TASK_ID.yaml &"
    )
    assert any(line.startswith("cd ") for line in lines[: lines.index(command)])
    assert 'if [ -f "$RUN_DIR/results.json" ]; then' in lines
    subprocess.run(["bash", "-n", str(sweep / "submit.sh")], check=True)  # valid shell


def test_slurm_submits_with_sbatch(tmp_path, capsys, monkeypatch):
    grid = char_stream_grid(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty_bin"))
    code, _, err = run_cli(["launch", str(grid), "--executor", "slurm"], capsys)
    assert code == 2 and "install SLURM or use --dry-run" in err
    # A fake sbatch that records its arguments and answers like `sbatch --parsable`.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/sbatch_args\necho "4242;cluster"\n')
    sbatch.chmod(sbatch.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    code, summary, err = run_cli(["launch", str(grid), "--executor", "slurm"], capsys)
    assert code == 0, err
    assert summary["job_id"] == "4242" and summary["submitted"] == 8
    assert (tmp_path / "sbatch_args").read_text().split() == [
        "--parsable",
        str(tmp_path / "sweep" / "submit.sh"),
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grid": {"learning_rte": [1e-3]}}, "grid key 'learning_rte' is not a field"),
        ({"grid": {"seed": [1, 2]}}, "grid key 'seed' is set by the launcher"),
        ({"grid": {"learning_rate": []}}, "grid.learning_rate is an empty list"),
        ({"grid": {"learning_rate": 1e-3}}, "grid.learning_rate must be a list"),
        ({"seeds": []}, "seeds must be a non-empty list"),
        ({"recipe": "no_such_task"}, "recipe 'no_such_task' is not a script in recipes/"),
        ({"config": "no_such_config"}, "--config: 'no_such_config'"),
        ({"slurm": {"time": "01:00:00"}}, "slurm.partition is missing"),
        ({"slurm": {"partition": "gpu", "time": 7200}}, "slurm.time must be a quoted string"),
        ({"sweeps": [1]}, "unknown field 'sweeps'"),
    ],
)
def test_grid_mistakes_exit_2(tmp_path, capsys, changes, message):
    grid = char_stream_grid(tmp_path, **changes)
    code, _, err = run_cli(["launch", str(grid), "--executor", "slurm", "--dry-run"], capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sweep").exists()  # nothing written before validation passes


def test_local_grid_runs_then_skips_finished_runs(tmp_path, capsys, stand_in_recipes):
    grid = write_grid(
        tmp_path / "grid.yaml",
        recipe="stand_in",
        config="base",
        grid={"learning_rate": [0.5, 0.25]},
        seeds=[1, 2],
        output_dir=str(tmp_path / "sweep"),
    )
    code, summary, err = run_cli(["launch", str(grid)], capsys)
    assert code == 0, err
    assert (summary["tasks"], summary["ran"], summary["skipped"]) == (4, 4, 0)
    assert summary["failed"] == []
    results = sorted((tmp_path / "sweep" / "runs").glob("*/results.json"))
    assert [path.parent.name for path in results] == [
        "lr0.25-seed1",
        "lr0.25-seed2",
        "lr0.5-seed1",
        "lr0.5-seed2",
    ]
    first = json.loads(results[0].read_text())
    assert first["metrics"]["score"] == 0.25 * 2 + 1  # width 2 from the base config
    assert first["cwd"] == str(stand_in_recipes.parent)  # tasks run from the repository root
    assert "lr0.25-seed1" in err  # the task's output is streamed to stderr

    code, summary, _ = run_cli(["launch", str(grid)], capsys)
    assert code == 0 and (summary["ran"], summary["skipped"]) == (0, 4)

    code, summary, err = run_cli(
        ["aggregate", str(tmp_path / "sweep"), "--by", "learning_rate"], capsys
    )
    assert code == 0, err
    means = {g["key"]["learning_rate"]: g["metrics"]["score"]["mean"] for g in summary["groups"]}
    assert means == {0.25: pytest.approx(2.0), 0.5: pytest.approx(2.5)}  # seeds 1, 2 average 1.5


def test_local_failure_is_reported_and_others_still_run(tmp_path, capsys, stand_in_recipes):
    grid = write_grid(
        tmp_path / "grid.yaml",
        recipe="stand_in",
        config="base",
        grid={"fail": [True, False]},
        seeds=[7],
        output_dir=str(tmp_path / "sweep"),
    )
    code, summary, err = run_cli(["launch", str(grid)], capsys)
    assert code == 2
    assert "1 of 2 tasks failed (ftrue-seed7)" in err
    assert summary["ran"] == 1 and summary["failed"][0]["run_name"] == "ftrue-seed7"
    assert summary["failed"][0]["returncode"] != 0
    assert (tmp_path / "sweep" / "runs" / "ffalse-seed7" / "results.json").is_file()


@pytest.mark.slow
def test_real_char_stream_grid_then_aggregate(tmp_path, capsys):
    """2 configs x 2 seeds of real char_stream training (each task a fresh Python process)."""
    base = load_yaml(resolve_config("char_stream", "quick"))
    base.update(
        num_chars=5000,
        eval_num_windows=16,
        answer_eval_prompts=8,
        num_report_samples=1,
        warmup_steps=0,
        eval_steps=5,
        logging_steps=5,
    )
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(base))
    grid = write_grid(
        tmp_path / "grid.yaml",
        recipe="char_stream",
        config=str(tmp_path / "tiny.yaml"),
        grid={"max_steps": [5, 6]},
        seeds=[1, 2],
        output_dir=str(tmp_path / "sweep"),
    )
    code, summary, err = run_cli(["launch", str(grid)], capsys)
    assert code == 0, err[-3000:]
    assert (summary["tasks"], summary["ran"], summary["skipped"]) == (4, 4, 0)
    for name, steps, seed in [("ms5-seed1", 5, 1), ("ms6-seed2", 6, 2)]:
        results = json.loads((tmp_path / "sweep" / "runs" / name / "results.json").read_text())
        assert (results["seed"], results["config"]["max_steps"]) == (seed, steps)
    code, summary, err = run_cli(
        ["aggregate", str(tmp_path / "sweep"), "--by", "max_steps"], capsys
    )
    assert code == 0, err
    assert [g["key"] for g in summary["groups"]] == [{"max_steps": 5}, {"max_steps": 6}]
    assert all(g["metrics"]["eval_loss"]["n"] == 2 for g in summary["groups"])
    code, summary, _ = run_cli(["launch", str(grid)], capsys)
    assert code == 0 and (summary["ran"], summary["skipped"]) == (0, 4)
