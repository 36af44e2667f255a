"""The SLURM executor: an sbatch job array (`submit.sh`), one element per grid task, each a full
`accelerate launch` of the recipe: with the grid's accelerate config (`slurm.accelerate_config`,
e.g. recipes/accelerate/fsdp.yaml, passed as --config_file), across `slurm.nodes` machines (one
launcher per node through srun, the first node's address from SLURM as the main process), and
surviving time limits (`--requeue`, and USR1 two minutes before the limit: the element requeues
itself and its task config's `resume: true` continues from the last complete checkpoint).

slurm keys: partition (required), time ("HH:MM:SS"), nodes (default 1), gpus_per_task (GPUs on
each node, default 1; 0: CPU), cpus_per_task, accelerate_config, job_name, setup (shell lines
run first, e.g. `module load cuda`); any other key becomes `#SBATCH --<key>=<value>`.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.files import write_text_atomic
from latent_lab.launch.grid import GridSpec, GridTask, recipe_script, repository_root

SUBMIT_SCRIPT = "submit.sh"
# Keys the script writes itself; any other key becomes `#SBATCH --<key>=<value>`.
OWN_KEYS = ("partition", "time", "nodes", "gpus_per_task", "cpus_per_task", "job_name", "setup",
            "accelerate_config")  # fmt: skip
# sbatch options the script sets for every task: a grid must not set them again.
LAUNCHER_OPTIONS = ("array", "ntasks", "ntasks_per_node", "requeue", "signal", "output", "error",
                    "open_mode")  # fmt: skip
REQUEUE_SIGNAL = "B:USR1@120"  # to the batch shell, 120 s before the time limit
MAIN_PROCESS_PORT = "$((20000 + SLURM_JOB_ID % 20000))"  # one port per job: arrays share nodes


def check_slurm_settings(spec: GridSpec) -> dict:
    """The slurm section with defaults, validated (one-line errors naming the field)."""
    settings = dict(spec.slurm)
    where = f"{spec.source}: slurm"
    if not settings.get("partition"):
        raise UserError(
            f"{where}.partition is missing; add `slurm: {{partition: NAME, "
            "time: HH:MM:SS, gpus_per_task: 1}` for --executor slurm"
        )
    settings.setdefault("time", "01:00:00")
    if not isinstance(settings["time"], str):
        # YAML reads an unquoted 02:00:00 as 7200 (seconds), which sbatch would take as minutes.
        raise UserError(
            f'{where}.time must be a quoted string such as "02:00:00", got {settings["time"]!r}'
        )
    settings.setdefault("gpus_per_task", 1)
    settings.setdefault("nodes", 1)
    settings.setdefault("job_name", f"latent-lab-{spec.output_dir.name}")
    for name, least in (("gpus_per_task", 0), ("cpus_per_task", 1), ("nodes", 1)):
        value = settings.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise UserError(f"{where}.{name} must be an integer >= {least}, got {value!r}")
    setup = settings.get("setup", [])
    if isinstance(setup, str) or not all(isinstance(line, str) for line in setup):
        raise UserError(f"{where}.setup must be a list of shell lines")
    for key, value in settings.items():
        if key in LAUNCHER_OPTIONS:
            raise UserError(f"{where}.{key} is set by the launcher for every task; remove it")
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", key) or "\n" in str(value):
            raise UserError(f"{where}.{key}: not a valid sbatch option")
    if settings.get("accelerate_config") is not None:
        settings["accelerate_config"] = resolve_accelerate_config(
            where, settings["accelerate_config"]
        )
    return settings


def resolve_accelerate_config(where: str, value) -> Path:
    """An existing file: as given (relative to here), else relative to the repository root, else
    a name in recipes/accelerate/ (`fsdp` or `fsdp.yaml`)."""
    root = repository_root()
    text = str(value)
    candidates = [Path(text).expanduser(), root / text]
    if "/" not in text:
        candidates += [root / "recipes" / "accelerate" / name for name in (text, f"{text}.yaml")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    shipped = ", ".join(sorted(p.name for p in (root / "recipes" / "accelerate").glob("*.yaml")))
    raise UserError(
        f"{where}.accelerate_config: {text} does not exist; give an accelerate config file "
        f"(shipped in recipes/accelerate/: {shipped or 'none'})"
    )


def slurm_script(spec: GridSpec, tasks: list[GridTask], settings: dict) -> str:
    """An sbatch job array: element i runs tasks/<i>.yaml under accelerate, unless finished."""
    logs = spec.output_dir / "logs"
    lines = [
        "#!/bin/bash",
        f"# Written by `latent-lab launch {spec.source}`; submit with `sbatch {SUBMIT_SCRIPT}`.",
        f"#SBATCH --job-name={settings['job_name']}",
        f"#SBATCH --array=0-{len(tasks) - 1}",
        f"#SBATCH --partition={settings['partition']}",
        f"#SBATCH --time={settings['time']}",
        f"#SBATCH --nodes={settings['nodes']}",
        "# One accelerate launcher per node (it starts a process per GPU).",
        "#SBATCH --ntasks-per-node=1",
    ]
    if settings["gpus_per_task"] > 0:
        lines.append(f"#SBATCH --gres=gpu:{settings['gpus_per_task']}")
    if settings.get("cpus_per_task"):
        lines.append(f"#SBATCH --cpus-per-task={settings['cpus_per_task']}")
    for key, value in settings.items():
        if key not in OWN_KEYS:
            lines.append(f"#SBATCH --{key.replace('_', '-')}={value}")
    lines += [
        "# Requeued at the time limit (USR1, see requeue below), a task resumes from its last",
        "# checkpoint and adds to its log.",
        "#SBATCH --requeue",
        f"#SBATCH --signal={REQUEUE_SIGNAL}",
        "#SBATCH --open-mode=append",
        f"#SBATCH --output={logs}/%A_%a.out",
        f"#SBATCH --error={logs}/%A_%a.err",
        "",
        "set -euo pipefail",
        *settings.get("setup", []),
    ]
    return "\n".join(lines + _task_body(spec, tasks, settings)) + "\n"


def _task_body(spec: GridSpec, tasks: list[GridTask], settings: dict) -> list[str]:
    root = repository_root()
    # The launcher's Python environment first on PATH, so `accelerate` is the one it installed.
    bin_dir = Path(sys.executable).parent
    run_dirs = " ".join(shlex.quote(str(task.run_dir)) for task in tasks)
    return [
        f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"',
        f"cd {shlex.quote(str(root))}  # the repository root: relative paths in configs work",
        f"RUN_DIRS=({run_dirs})",
        'RUN_DIR="${RUN_DIRS[$SLURM_ARRAY_TASK_ID]}"',
        'if [ -f "$RUN_DIR/results.json" ]; then',
        '  echo "task $SLURM_ARRAY_TASK_ID: $RUN_DIR is finished, skipping"',
        "  exit 0",
        "fi",
        "# USR1 comes before the time limit (--signal): requeue this element; its config's",
        "# `resume: true` continues from the last complete checkpoint (none: a clean start).",
        "requeue() {",
        '  echo "task $SLURM_ARRAY_TASK_ID: time limit near, requeueing job $SLURM_JOB_ID" >&2',
        '  scontrol requeue "$SLURM_JOB_ID"',
        '  kill -TERM "${LAUNCHER:-}" 2>/dev/null || true',
        "  exit 0",
        "}",
        "trap requeue USR1",
        *_launch_lines(spec, settings, root),
        "LAUNCHER=$!",
        'wait "$LAUNCHER"  # in the background, so the USR1 trap runs at once',
    ]


def _launch_lines(spec: GridSpec, settings: dict, root: Path) -> list[str]:
    """`accelerate launch ... &`: here for one node; for several, srun starts one launcher per
    node, each with its machine rank, the first node as the main process."""
    nodes, gpus = settings["nodes"], settings["gpus_per_task"]
    processes = nodes * max(gpus, 1)
    words = ["accelerate", "launch"]
    if settings.get("accelerate_config") is not None:
        words += ["--config_file", _relative(settings["accelerate_config"], root)]
    elif processes > 1:
        words.append("--multi_gpu")
    elif gpus == 0:
        words.append("--cpu")
    words += ["--num_processes", str(processes), "--num_machines", str(nodes)]
    recipe = _relative(recipe_script(spec.recipe), root)
    config = f"{shlex.quote(_relative(spec.tasks_dir, root))}/$SLURM_ARRAY_TASK_ID.yaml"
    if nodes == 1:
        return [f"{shlex.join(words)} {shlex.quote(recipe)} --config {config} &"]
    words += ["--machine_rank", "$SLURM_NODEID", "--main_process_ip", "$MAIN_PROCESS_IP",
              "--main_process_port", "$MAIN_PROCESS_PORT", "--rdzv_backend", "static",
              "--same_network"]  # fmt: skip
    launcher = " ".join(words) + f" {shlex.quote(recipe)} --config {config}"
    return [
        'MAIN_PROCESS_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
        f"MAIN_PROCESS_PORT={MAIN_PROCESS_PORT}",
        "export MAIN_PROCESS_IP MAIN_PROCESS_PORT",
        f'srun --nodes="$SLURM_NNODES" --ntasks="$SLURM_NNODES" --ntasks-per-node=1 '
        f"--kill-on-bad-exit=1 bash -c {shlex.quote(launcher)} &",
    ]


def _relative(path: Path, root: Path) -> str:
    """A path relative to the repository root when it lies inside (the script runs there)."""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def write_slurm_script(spec: GridSpec, tasks: list[GridTask], settings: dict) -> Path:
    (spec.output_dir / "logs").mkdir(parents=True, exist_ok=True)  # sbatch does not create it
    path = write_text_atomic(spec.output_dir / SUBMIT_SCRIPT, slurm_script(spec, tasks, settings))
    path.chmod(0o755)
    return path


def submit_slurm(script: Path) -> str:
    """Submit with `sbatch --parsable`; returns the job id."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise UserError("--executor slurm: `sbatch` is not on PATH; install SLURM or use --dry-run")
    completed = subprocess.run(
        [sbatch, "--parsable", str(script)], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        reason = " ".join(completed.stderr.split()) or f"exit code {completed.returncode}"
        raise UserError(f"sbatch {script}: {reason}; fix the slurm section of the grid")
    return completed.stdout.strip().split(";")[0]
