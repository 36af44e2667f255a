"""Executors for expanded grids: `local` runs the tasks one after another in subprocesses;
`slurm` (latent_lab/launch/slurm.py) writes an sbatch job-array script (`submit.sh`) and submits
it with plain `sbatch`."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

from latent_lab.launch.grid import GridSpec, GridTask, recipe_script, repository_root
from latent_lab.launch.slurm import (  # noqa: F401  the slurm executor, imported from here
    SUBMIT_SCRIPT,
    check_slurm_settings,
    slurm_script,
    submit_slurm,
    write_slurm_script,
)


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
