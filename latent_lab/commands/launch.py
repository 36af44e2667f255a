"""`latent-lab launch GRID.yaml [--executor local|slurm] [--dry-run]`: expand a grid of configs
and seeds into task configs, then run them here one by one or submit a SLURM job array."""

from __future__ import annotations

import json
import sys

from latent_lab.commands.output import emit
from latent_lab.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "launch",
        help="run a grid of configs x seeds locally or as a SLURM job array",
        description=(
            "Expand GRID.yaml (recipe, config, grid, seeds, output_dir, slurm) into "
            "<output_dir>/tasks/<i>.yaml, then run them in order (local) or write "
            "<output_dir>/submit.sh and submit it with sbatch (slurm). Finished runs "
            "(results.json present) are skipped, so launching again resumes a grid."
        ),
    )
    parser.add_argument("grid", metavar="GRID.yaml", help="the grid file")
    parser.add_argument(
        "--executor", choices=("local", "slurm"), default="local", help="default: local"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write the task configs (and submit.sh) but run or submit nothing",
    )
    parser.set_defaults(func=launch_command)


def launch_command(args) -> dict:
    from latent_lab.files import check_output_path
    from latent_lab.launch.executors import (
        check_slurm_settings,
        run_local,
        submit_slurm,
        write_slurm_script,
    )
    from latent_lab.launch.grid import expand_grid, load_grid, write_task_configs

    spec = load_grid(args.grid)
    check_output_path(spec.output_dir, f"{spec.source}: output_dir")
    settings = check_slurm_settings(spec) if args.executor == "slurm" else None
    tasks = expand_grid(spec)
    check_task_configs(spec, tasks)
    write_task_configs(tasks)
    print(f"{len(tasks)} task configs in {spec.tasks_dir}", file=sys.stderr)
    summary = {
        "executor": args.executor,
        "dry_run": args.dry_run,
        "tasks": len(tasks),
        "output_dir": str(spec.output_dir),
        "ran": 0,
        "skipped": sum(task.finished for task in tasks),
        "failed": [],
    }
    if settings is not None:
        script = write_slurm_script(spec, tasks, settings)
        summary["submit_script"] = str(script)
        summary["submitted"] = 0
        if not args.dry_run:
            summary["job_id"] = submit_slurm(script)
            summary["submitted"] = len(tasks) - summary["skipped"]
            print(f"submitted job {summary['job_id']} ({script})", file=sys.stderr)
        return summary
    outcome = run_local(spec, tasks, dry_run=args.dry_run)
    summary.update(ran=len(outcome.ran), skipped=len(outcome.skipped), failed=outcome.failed)
    if outcome.failed:
        # The summary still ends stdout; the exit code says the grid is incomplete.
        emit(json.dumps(summary, sort_keys=True, default=str))
        names = ", ".join(failure["run_name"] for failure in outcome.failed)
        raise UserError(
            f"{len(outcome.failed)} of {len(tasks)} tasks failed ({names}); see their output "
            "above, fix the config and launch again (finished runs are skipped)"
        )
    return summary


HARDWARE_CHECKED = ("tf32",)  # TrainingArguments refuses it without an Ampere GPU here


def check_task_configs(spec, tasks) -> None:
    """Parse every task's config with the recipe's own parser before any file is written: a
    wrong-typed value, or one the recipe refuses, names its task and leaves nothing behind."""
    from latent_lab.launch.grid import recipe_parser

    for task in tasks:  # a fresh parser each: a config's values become the parser's defaults
        where = f"{spec.source}: task {task.index} ({task.run_name})"
        # tf32 is checked against this machine's GPU: a SLURM grid is launched from login nodes
        config = {k: v for k, v in task.config.items() if k not in HARDWARE_CHECKED}
        recipe_parser(spec.recipe).parse_mapping(config, where)
