"""SLURM grids the real way: the grid's accelerate config goes to `accelerate launch
--config_file`, several nodes are one process group (srun starts one launcher per node with its
machine rank and the first node's address), and a task survives its time limit (--requeue,
USR1 before the limit, a trap that requeues, `resume: true` in every task config).

A fake `sbatch` (and `scontrol`, `srun`) on PATH runs the array here: each element is the real
submit.sh under bash with SLURM's variables, the real `accelerate launch` and a stand-in recipe
that checkpoints like Trainer. One element gets USR1 once it has checkpoints: it requeues itself
and its second run resumes from the last checkpoint, while the other starts clean."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import latent_lab.cli

REPO = Path(__file__).resolve().parents[1]
# Checkpoints like Trainer (checkpoint-<step>/trainer_state.json written last) and, with
# resume, continues after the newest complete one, as the runner's last_checkpoint() does.
STAND_IN_RECIPE = """
import json, os, sys, time
from pathlib import Path

import yaml

config = {"steps": 6, "step_seconds": 0.4, "resume": False}
config.update(yaml.safe_load(Path(sys.argv[sys.argv.index("--config") + 1]).read_text()))
out = Path(config["output_dir"])
out.mkdir(parents=True, exist_ok=True)
done = sorted(int(p.parent.name.split("-")[1]) for p in out.glob("checkpoint-*/trainer_state.json"))
start = done[-1] if config["resume"] and done else 0
for step in range(start + 1, config["steps"] + 1):
    time.sleep(config["step_seconds"])
    (out / f"checkpoint-{step}").mkdir(exist_ok=True)
    (out / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"step": step}))
results = {"task": "stand_in", "metrics": {"steps": config["steps"]}, "reference": {},
           "resumed_from": start or None, "restarts": os.environ.get("SLURM_RESTART_COUNT"),
           "config": config}
(out / "results.json").write_text(json.dumps(results))
"""
STAND_IN_PARSER = """
class Parser:
    def known_keys(self):
        return {"steps", "step_seconds", "resume", "seed", "run_name", "output_dir",
                "config_name", "wandb_group"}


    def parse_mapping(self, values, source):  # launch checks each task config before writing
        return values


def make_parser():
    return Parser()
"""
# sbatch --parsable SCRIPT: run each array element with bash, one after another, as SLURM
# would (own session; everything left is killed when the element ends). Element
# $FAKE_SLURM_SIGNAL_TASK gets USR1 once $FAKE_SLURM_SIGNAL_AFTER exists, on its first run.
FAKE_SBATCH = """#!{python}
import os, re, signal, subprocess, sys, time
from pathlib import Path

script = Path(sys.argv[-1])
array = re.search(r"^#SBATCH --array=(\\d+)-(\\d+)$", script.read_text(), re.M)
first, last = int(array.group(1)), int(array.group(2))
state = Path(os.environ["FAKE_SLURM_DIR"])
signal_task = int(os.environ.get("FAKE_SLURM_SIGNAL_TASK", "-1"))
for task in range(first, last + 1):
    job_id, restarts = 1000 + task, 0
    while True:
        env = dict(os.environ, SLURM_ARRAY_JOB_ID="1000", SLURM_ARRAY_TASK_ID=str(task),
                   SLURM_JOB_ID=str(job_id), SLURM_RESTART_COUNT=str(restarts),
                   SLURM_JOB_NODELIST="node[1-2]", SLURM_NNODES="2")
        log = open(state / f"{{task}}.{{restarts}}.log", "w")
        process = subprocess.Popen(["bash", str(script)], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        if task == signal_task and restarts == 0:
            marker = Path(os.environ["FAKE_SLURM_SIGNAL_AFTER"].format(task=task))
            deadline = time.monotonic() + 120
            while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            process.send_signal(signal.SIGUSR1)
        code = process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)  # what the element left running
        except ProcessLookupError:
            pass
        (state / f"{{task}}.{{restarts}}.code").write_text(str(code))
        requeued = state / f"requeue-{{job_id}}"
        if not requeued.exists():
            break
        requeued.unlink()
        restarts += 1
print("4242")
"""
# scontrol requeue JOBID | scontrol show hostnames LIST
FAKE_SCONTROL = """#!/bin/sh
case "$1" in
  requeue) touch "$FAKE_SLURM_DIR/requeue-$2" ;;
  show) printf 'node1\\nnode2\\n' ;;
esac
"""
# srun ... bash -c CMD: run CMD once per node, with a recording `accelerate` in place of the real
FAKE_SRUN = """#!/bin/bash
while [ "$1" != "bash" ]; do shift; done
for node in $(seq 0 $((SLURM_NNODES - 1))); do
  record='accelerate() { echo "$SLURM_NODEID $*" >> "$FAKE_SLURM_DIR/launches"; }; '
  SLURM_NODEID=$node bash -c "$record$3"
done
"""


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """sbatch, scontrol and srun on PATH, and a recipes folder with the stand-in recipe."""
    from latent_lab.tasks import registry

    state, bin_dir = tmp_path / "slurm", tmp_path / "bin"
    state.mkdir()
    bin_dir.mkdir()
    executable(bin_dir / "sbatch", FAKE_SBATCH.format(python=sys.executable))
    executable(bin_dir / "scontrol", FAKE_SCONTROL)
    executable(bin_dir / "srun", FAKE_SRUN)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(state))
    recipes = tmp_path / "repo" / "recipes"
    (recipes / "configs" / "stand_in").mkdir(parents=True)
    (recipes / "stand_in.py").write_text(STAND_IN_RECIPE)
    (recipes / "configs" / "stand_in" / "base.yaml").write_text("steps: 6\n")
    (tmp_path / "slurm_stand_in_parser.py").write_text(STAND_IN_PARSER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LATENT_LAB_RECIPES", str(recipes))
    task = registry.Task("stand_in", "", "", (), (), "", "", (),
                         recipes={"stand_in": "slurm_stand_in_parser:make_parser"})  # fmt: skip
    tasks = {**registry.all_tasks(), "stand_in": task}
    monkeypatch.setattr(registry, "all_tasks", lambda: tasks)
    return state


def launch(argv, capsys):
    code = latent_lab.cli.main(["launch", *argv])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, (json.loads(lines[-1]) if lines else None), captured.err


def write_grid(path: Path, **fields) -> Path:
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def test_full_run_uses_fsdp_requeues_and_resumes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the grid's output_dir is relative: runs/semi_synthetic_full
    grid = REPO / "recipes" / "grids" / "semi_synthetic" / "full_run.yaml"
    code, summary, err = launch([str(grid), "--executor", "slurm", "--dry-run"], capsys)
    assert code == 0, err
    script = Path(summary["submit_script"]).read_text()
    lines = script.splitlines()
    command = next(line for line in lines if line.startswith("accelerate launch"))
    assert "--config_file recipes/accelerate/fsdp.yaml" in command
    assert "--num_processes 4" in command and "--multi_gpu" not in command
    assert "#SBATCH --requeue" in lines and "#SBATCH --signal=B:USR1@120" in lines
    assert "trap requeue USR1" in lines and '  scontrol requeue "$SLURM_JOB_ID"' in lines
    task = yaml.safe_load((tmp_path / "runs/semi_synthetic_full/tasks/0.yaml").read_text())
    assert task["resume"] is True
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)


def test_array_runs_here_and_a_requeued_task_resumes(fake_slurm, tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep"
    slurm = {"partition": "cpu", "time": "00:10:00", "gpus_per_task": 0}  # CPU: --cpu
    grid = write_grid(tmp_path / "grid.yaml", recipe="stand_in", config="base", seeds=[1, 2],
                      output_dir=str(sweep), slurm=slurm)  # fmt: skip
    monkeypatch.setenv("FAKE_SLURM_SIGNAL_TASK", "1")
    monkeypatch.setenv(
        "FAKE_SLURM_SIGNAL_AFTER", str(sweep / "runs/seed2/checkpoint-2/trainer_state.json")
    )
    code, summary, err = launch([str(grid), "--executor", "slurm"], capsys)
    assert code == 0, err
    assert summary["job_id"] == "4242" and summary["submitted"] == 2
    logs = {path.name: path.read_text() for path in fake_slurm.glob("*.log")}
    assert sorted(logs) == ["0.0.log", "1.0.log", "1.1.log"], logs  # task 1 ran twice
    assert "time limit near, requeueing job 1001" in logs["1.0.log"]
    assert not (fake_slurm / "requeue-1000").exists()
    clean = json.loads((sweep / "runs/seed1/results.json").read_text())
    resumed = json.loads((sweep / "runs/seed2/results.json").read_text())
    assert clean["resumed_from"] is None and clean["restarts"] == "0"  # no checkpoint: clean
    assert resumed["restarts"] == "1" and 2 <= resumed["resumed_from"] < 6, logs
    assert resumed["config"]["resume"] is True
    # Launching again: every element finds its results.json and exits at once.
    monkeypatch.delenv("FAKE_SLURM_SIGNAL_TASK")
    code, summary, err = launch([str(grid), "--executor", "slurm"], capsys)
    assert code == 0 and summary["skipped"] == 2
    assert "is finished, skipping" in (fake_slurm / "1.0.log").read_text()


def test_two_node_task_is_one_process_group_across_nodes(fake_slurm, tmp_path, capsys):
    grid = write_grid(tmp_path / "grid.yaml", recipe="stand_in", config="base", seeds=[1],
                      output_dir=str(tmp_path / "sweep"),
                      slurm={"partition": "gpu", "nodes": 2, "gpus_per_task": 4,
                             "accelerate_config": "recipes/accelerate/fsdp.yaml"})  # fmt: skip
    code, summary, err = launch([str(grid), "--executor", "slurm"], capsys)
    assert code == 0, err
    script = Path(summary["submit_script"]).read_text()
    assert "#SBATCH --nodes=2" in script and "#SBATCH --ntasks-per-node=1" in script
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in script
    launches = (fake_slurm / "launches").read_text().splitlines()
    assert len(launches) == 2  # one launcher per node
    for node, line in enumerate(launches):
        words = line.split()
        assert words[0] == str(node) and words[1] == "launch"
        options = dict(zip(words[2::2], words[3::2], strict=False))
        assert options["--config_file"] == str(REPO / "recipes/accelerate/fsdp.yaml")
        assert options["--num_machines"] == "2" and options["--num_processes"] == "8"
        assert options["--machine_rank"] == str(node)
        assert options["--main_process_ip"] == "node1"  # the first node, from SLURM
        assert options["--main_process_port"] == str(20000 + 1000 % 20000)
        assert line.endswith("recipes/stand_in.py --config " + str(tmp_path / "sweep/tasks/0.yaml"))


@pytest.mark.parametrize(
    ("slurm", "message"),
    [
        ({"accelerate_config": "recipes/accelerate/nope.yaml"},
         "slurm.accelerate_config: recipes/accelerate/nope.yaml does not exist"),
        ({"nodes": 0}, "slurm.nodes must be an integer >= 1, got 0"),
        ({"nodes": "two"}, "slurm.nodes must be an integer >= 1"),
        ({"requeue": True}, "slurm.requeue is set by the launcher"),
        ({"gpus_per_task": -1}, "slurm.gpus_per_task must be an integer >= 0"),
    ],
)  # fmt: skip
def test_bad_slurm_settings_are_one_line_exit_2(slurm, message, tmp_path, capsys):
    grid = write_grid(tmp_path / "grid.yaml", recipe="char_stream", config="quick", seeds=[1],
                      output_dir=str(tmp_path / "sweep"),
                      slurm={"partition": "gpu", **slurm})  # fmt: skip
    code, _, err = launch([str(grid), "--executor", "slurm", "--dry-run"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "sweep").exists()  # nothing written


def test_accelerate_config_by_name_and_single_node_defaults(tmp_path, capsys):
    slurm = {"partition": "gpu", "gpus_per_task": 2, "accelerate_config": "ddp"}  # a name
    grid = write_grid(tmp_path / "grid.yaml", recipe="char_stream", config="quick", seeds=[1],
                      output_dir=str(tmp_path / "sweep"), slurm=slurm)  # fmt: skip
    code, summary, err = launch([str(grid), "--executor", "slurm", "--dry-run"], capsys)
    assert code == 0, err
    script = Path(summary["submit_script"]).read_text()
    assert ("accelerate launch --config_file recipes/accelerate/ddp.yaml --num_processes 2 "
            "--num_machines 1 recipes/char_stream.py") in script  # fmt: skip
    assert "srun" not in script and "#SBATCH --nodes=1" in script


def test_gpu_only_settings_launch_from_a_cpu_login_node(tmp_path, capsys):
    """Every task config is parsed before any is written, but not against this machine's GPU:
    TrainingArguments refuses tf32 without an Ampere GPU, and a SLURM grid starts on a login
    node."""
    grid = write_grid(tmp_path / "grid.yaml", recipe="char_stream", config="quick", seeds=[1],
                      grid={"tf32": [True]}, output_dir=str(tmp_path / "sweep"),
                      slurm={"partition": "gpu", "gpus_per_task": 1})  # fmt: skip
    code, summary, err = launch([str(grid), "--executor", "slurm", "--dry-run"], capsys)
    assert code == 0, err
    assert "tf32: true" in (tmp_path / "sweep" / "tasks" / "0.yaml").read_text()
