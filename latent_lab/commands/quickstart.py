"""`latent-lab quickstart` (`make demo`): a small run of every task on the CPU, each task's
headline metric beside its trivial baseline and its exact optimum, and the learning curves."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from latent_lab.commands.output import emit
from latent_lab.config import config_dir, recipes_dir
from latent_lab.tasks.registry import all_tasks, get_task, task_names

DEMO_SEED = 1
ROW_FIELDS = ("task", "model", "metric", "baseline", "value", "reference", "gap_closed")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "quickstart", help="small runs of every task (CPU, minutes): baseline, model, optimum"
    )
    parser.add_argument("--output-dir", default="runs/quickstart")
    parser.add_argument(
        "--task", action="append", choices=task_names(), help="run only these tasks (repeatable)"
    )
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1),
        help="runs at a time, the CPU cores shared among them (default: 2, or 1 on one core)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def available_tasks() -> list[str]:
    """Tasks with a headline metric, a recipe script and a demo config."""
    return [
        task.name
        for task in all_tasks().values()
        if task.headline
        and (config_dir(task.name) / f"{task.demo_config}.yaml").is_file()
        and (recipes_dir() / f"{task.name}.py").is_file()
    ]


def run_demo(task: str, output_dir: Path, threads: int) -> dict:
    """Run the task's recipe on its demo config in a fresh process, as a user would."""
    import subprocess

    run_dir = output_dir / task
    command = [sys.executable, str(recipes_dir() / f"{task}.py"),
               "--config", get_task(task).demo_config, "--output_dir", str(run_dir),
               "--seed", str(DEMO_SEED), "--disable_tqdm", "true"]  # fmt: skip
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    process = subprocess.run(command, capture_output=True, text=True, env=environment)
    log = output_dir / f"{task}.log"  # the recipe's progress and warnings, kept for a failure
    log.write_text(process.stderr)
    if process.returncode != 0:
        tail = process.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise SystemExit(f"quickstart: recipes/{task}.py failed (exit {process.returncode}): "
                         f"{tail[0]}; its output is in {log}")  # fmt: skip
    return json.loads((run_dir / "results.json").read_text())


def headline_row(task: str, results: dict) -> dict:
    """The task's headline metric beside its baseline and exact optimum, and the fraction of
    the gap between them the model closed."""
    from latent_lab.training.baselines import gap_closed

    metric = get_task(task).headline
    value = results["metrics"][metric]
    reference = results["reference"].get(results["reference_for"].get(metric, ""))
    baseline = results.get("baseline", {}).get(results.get("baseline_for", {}).get(metric, ""))
    closed = None
    if reference is not None and baseline is not None:
        closed = gap_closed(value, baseline, reference)
    model = f"{results['model_type']} ({results['num_parameters']:,} params)"
    row = dict(zip(ROW_FIELDS, (task, model, metric, baseline, value, reference, closed),
                   strict=True))  # fmt: skip
    return {**row, "headline": True, "wall_time_s": results["wall_time_s"]}


def _fmt(value, percent=False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.0f}%" if percent else f"{value:.4f}"


def markdown_table(rows: list[dict]) -> str:
    header = ("| task | model | metric | trivial baseline | model | exact optimum | gap closed |\n"
              "|---|---|---|---|---|---|---|\n")  # fmt: skip
    lines = [
        f"| {r['task']} | {r['model']} | {r['metric']} | {_fmt(r['baseline'])} | "
        f"{_fmt(r['value'])} | {_fmt(r['reference'])} | {_fmt(r['gap_closed'], True)} |\n"
        for r in rows
    ]
    return header + "".join(lines)


def progress_line(row: dict) -> str:
    closed = _fmt(row["gap_closed"], True)
    return (f"{row['task']}: {row['metric']} {_fmt(row['value'])} (baseline "
            f"{_fmt(row['baseline'])}, optimum {_fmt(row['reference'])}: {closed} of the gap "
            f"closed) in {row['wall_time_s']:.0f} s")  # fmt: skip


def run(args) -> dict:
    from latent_lab.errors import UserError
    from latent_lab.files import check_output_path

    output_dir = check_output_path(args.output_dir, "--output-dir")  # before minutes of runs
    if args.jobs < 1:
        raise UserError(f"--jobs: must be >= 1, got {args.jobs}")
    tasks = list(dict.fromkeys(args.task)) if args.task else available_tasks()  # once each
    missing = [task for task in tasks if task not in available_tasks()]
    if missing:
        raise UserError(f"--task: {', '.join(missing)} has no demo config or headline metric")
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    output_dir.mkdir(parents=True, exist_ok=True)
    start, rows = time.time(), {}

    def one(task: str) -> None:
        rows[task] = headline_row(task, run_demo(task, output_dir, threads))
        print(progress_line(rows[task]), file=sys.stderr, flush=True)

    print(f"quickstart: {len(tasks)} tasks, {args.jobs} at a time ...", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(one, task) for task in tasks]:
            future.result()
    ordered = [rows[task] for task in tasks]
    emit(markdown_table(ordered))
    from latent_lab.commands.quickstart_plot import plot_learning_curves

    plot = plot_learning_curves(ordered, output_dir, output_dir / "quickstart.png")
    return {
        "output_dir": str(output_dir),
        "tasks": tasks,
        "wall_time_s": round(time.time() - start, 1),
        "results": {task: str(output_dir / task / "results.json") for task in tasks},
        "plot": str(plot),
        "rows": ordered,
    }
