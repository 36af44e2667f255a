"""Executors for expanded grids: `local` runs the tasks one after another in subprocesses;
`slurm` writes an sbatch job-array script (`submit.sh`) and submits it with plain `sbatch`."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.files import write_text_atomic
from latent_lab.launch.grid import GridSpec, GridTask, recipe_script, repository_root

SUBMIT_SCRIPT = "submit.sh"
# slurm keys the script writes itself; any other key becomes `#SBATCH --<key>=<value>`.
SLURM_OWN_KEYS = ("partition", "time", "gpus_per_task", "cpus_per_task", "job_name", "setup")


@dataclass
class LocalOutcome:
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)


def run_local(spec: GridSpec, tasks: list[GridTask], dry_run: bool = False) -> LocalOutcome:
    """Run unfinished tasks in order, each in its own Python process so a failure does not stop
    the others; finished runs (results.json present) are skipped."""
    outcome = LocalOutcome()
    for task in tasks:
        if task.finished:
            outcome.skipped.append(task.run_name)
            print(f"[{task.index}] {task.run_name}: finished, skipping", file=sys.stderr)
            continue
        if dry_run:
            print(f"[{task.index}] {task.run_name}: would run", file=sys.stderr)
            continue
        print(f"[{task.index}] {task.run_name}: running", file=sys.stderr, flush=True)
        returncode = run_task_process(spec, task)
        if returncode == 0 and task.finished:
            outcome.ran.append(task.run_name)
        else:
            outcome.failed.append(
                {"task": task.index, "run_name": task.run_name, "returncode": returncode}
            )
            print(f"[{task.index}] {task.run_name}: FAILED ({returncode})", file=sys.stderr)
    return outcome


def run_task_process(spec: GridSpec, task: GridTask) -> int:
    """`python recipes/<task>.py --config tasks/<i>.yaml`, its output streamed to stderr
    (stdout stays for the launcher's own summary)."""
    command = [
        sys.executable,
        str(recipe_script(spec.recipe)),
        "--config",
        str(task.config_file),
    ]
    process = subprocess.Popen(
        command,
        cwd=repository_root(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    for line in process.stdout:
        sys.stderr.write(line)
    sys.stderr.flush()
    return process.wait()


def check_slurm_settings(spec: GridSpec) -> dict:
    """The slurm section with defaults, validated (one-line errors naming the field)."""
    settings = dict(spec.slurm)
    if not settings.get("partition"):
        raise UserError(
            f"{spec.source}: slurm.partition is missing; add `slurm: {{partition: NAME, "
            "time: HH:MM:SS, gpus_per_task: 1}` for --executor slurm"
        )
    settings.setdefault("time", "01:00:00")
    if not isinstance(settings["time"], str):
        # YAML reads an unquoted 02:00:00 as 7200 (seconds), which sbatch would take as minutes.
        raise UserError(
            f'{spec.source}: slurm.time must be a quoted string such as "02:00:00", '
            f"got {settings['time']!r}"
        )
    settings.setdefault("gpus_per_task", 1)
    settings.setdefault("job_name", f"latent-lab-{spec.output_dir.name}")
    for name in ("gpus_per_task", "cpus_per_task"):
        value = settings.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise UserError(f"{spec.source}: slurm.{name} must be an integer, got {value!r}")
    if settings["gpus_per_task"] < 0:
        raise UserError(f"{spec.source}: slurm.gpus_per_task must be >= 0 (0: CPU only)")
    setup = settings.get("setup", [])
    if isinstance(setup, str) or not all(isinstance(line, str) for line in setup):
        raise UserError(f"{spec.source}: slurm.setup must be a list of shell lines")
    for key, value in settings.items():
        if not re.fullmatch(r"[a-z][a-z0-9_-]*", key) or "\n" in str(value):
            raise UserError(f"{spec.source}: slurm.{key}: not a valid sbatch option")
    return settings


def slurm_script(spec: GridSpec, tasks: list[GridTask], settings: dict) -> str:
    """An sbatch job array: element i runs tasks/<i>.yaml under accelerate, unless finished."""
    logs = spec.output_dir / "logs"
    gpus = settings["gpus_per_task"]
    lines = [
        "#!/bin/bash",
        f"# Written by `latent-lab launch {spec.source}`; submit with `sbatch {SUBMIT_SCRIPT}`.",
        f"#SBATCH --job-name={settings['job_name']}",
        f"#SBATCH --array=0-{len(tasks) - 1}",
        f"#SBATCH --partition={settings['partition']}",
        f"#SBATCH --time={settings['time']}",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
    ]
    if gpus > 0:
        lines.append(f"#SBATCH --gres=gpu:{gpus}")
    if settings.get("cpus_per_task"):
        lines.append(f"#SBATCH --cpus-per-task={settings['cpus_per_task']}")
    for key, value in settings.items():
        if key not in SLURM_OWN_KEYS:
            lines.append(f"#SBATCH --{key.replace('_', '-')}={value}")
    lines += [f"#SBATCH --output={logs}/%A_%a.out", f"#SBATCH --error={logs}/%A_%a.err", ""]
    lines += ["set -euo pipefail", *settings.get("setup", [])]
    lines += _task_body(spec, tasks, gpus)
    return "\n".join(lines) + "\n"


def _task_body(spec: GridSpec, tasks: list[GridTask], gpus: int) -> list[str]:
    root = repository_root()
    # The launcher's Python environment first on PATH, so `accelerate` is the one it installed.
    bin_dir = Path(sys.executable).parent
    run_dirs = " ".join(shlex.quote(str(task.run_dir)) for task in tasks)
    processes = max(gpus, 1)
    accelerate = f"accelerate launch --num_machines 1 --num_processes {processes}"
    accelerate += " --multi_gpu" if processes > 1 else (" --cpu" if gpus == 0 else "")
    config = _config_argument(spec.tasks_dir, root)
    return [
        f'export PATH={shlex.quote(str(bin_dir))}:"$PATH"',
        f"cd {shlex.quote(str(root))}  # the repository root: relative paths in configs work",
        f"RUN_DIRS=({run_dirs})",
        'RUN_DIR="${RUN_DIRS[$SLURM_ARRAY_TASK_ID]}"',
        'if [ -f "$RUN_DIR/results.json" ]; then',
        '  echo "task $SLURM_ARRAY_TASK_ID: $RUN_DIR is finished, skipping"',
        "  exit 0",
        "fi",
        f"{accelerate} recipes/{spec.recipe}.py --config {config}",
    ]


def _config_argument(tasks_dir: Path, root: Path) -> str:
    """tasks/$SLURM_ARRAY_TASK_ID.yaml, relative to the repository root when it lies inside."""
    try:
        folder = str(tasks_dir.relative_to(root))
    except ValueError:
        folder = str(tasks_dir)
    return f"{shlex.quote(folder)}/$SLURM_ARRAY_TASK_ID.yaml"


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
