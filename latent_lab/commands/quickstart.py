"""`latent-lab quickstart`: a small run of every task on CPU, one table with exact references."""

from __future__ import annotations

import json
from pathlib import Path

from latent_lab.commands.output import emit
from latent_lab.config import config_dir, recipes_dir
from latent_lab.tasks.registry import all_tasks, get_task, task_names

QUICK_SEED = 1


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("quickstart", help="small runs of every task (CPU, minutes)")
    parser.add_argument("--output-dir", default="runs/quickstart")
    parser.add_argument(
        "--task", action="append", choices=task_names(), help="run only these tasks (repeatable)"
    )
    parser.set_defaults(func=run)


def available_tasks() -> list[str]:
    """Tasks whose recipe script and quick config exist."""
    return [
        task.name
        for task in all_tasks().values()
        if (config_dir(task.name) / f"{task.quick_config}.yaml").is_file()
        and (recipes_dir() / f"{task.name}.py").is_file()
    ]


def run_quick(task: str, output_dir: Path) -> dict:
    """Run the task's recipe on its quick config in a fresh process, as a user would."""
    import subprocess
    import sys

    quick = get_task(task).quick_config
    run_dir = output_dir / task
    command = [sys.executable, str(recipes_dir() / f"{task}.py"), "--config", quick,
               "--output_dir", str(run_dir), "--seed", str(QUICK_SEED)]  # fmt: skip
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        tail = process.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"quickstart: recipes/{task}.py failed: {tail[0]}")
    return json.loads((run_dir / "results.json").read_text())


def table_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(task, model, metric, value, exact reference) for the run's headline metrics."""
    reference_for = results.get("reference_for", {})
    metrics = results["metrics"]
    model = f"{results['model_type']} ({results['num_parameters']:,} params)"
    names = list(reference_for) + [m for m in ("eval_loss",) if m not in reference_for]
    rows = []
    for name in names:
        if name not in metrics:
            continue
        reference = results["reference"].get(reference_for.get(name, ""), None)
        rows.append((results["task"], model, name, f"{metrics[name]:.4f}", _fmt(reference)))
    return rows


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def markdown_table(rows) -> str:
    header = "| task | model | metric | value | exact reference |\n|---|---|---|---|---|\n"
    return header + "".join(f"| {' | '.join(row)} |\n" for row in rows)


def run(args) -> dict:
    output_dir = Path(args.output_dir)
    tasks = args.task or available_tasks()
    all_results = {task: run_quick(task, output_dir) for task in tasks}
    rows = [row for task in tasks for row in table_rows(all_results[task])]
    table = markdown_table(rows)
    emit(table)
    plot = _plot(rows, output_dir / "quickstart.png")
    return {
        "output_dir": str(output_dir),
        "tasks": tasks,
        "results": {task: str(output_dir / task / "results.json") for task in tasks},
        "plot": str(plot),
        "rows": [
            dict(zip(("task", "model", "metric", "value", "reference"), r, strict=True))
            for r in rows
        ],
    }


def _plot(rows, path: Path) -> Path:
    """One panel per task: each headline metric as a bar, its exact reference as a tick."""
    from latent_lab.analysis.figures import new_figure, save_figure

    tasks = list(dict.fromkeys(task for task, *_ in rows))
    if not tasks:
        return path
    columns = min(2, len(tasks))
    grid_rows = -(-len(tasks) // columns)
    figure, axes = new_figure(grid_rows, columns, size=(6.5 * columns, 3.2 * grid_rows))
    for axis, task in zip(axes.flat, tasks, strict=False):
        mine = [row for row in rows if row[0] == task]
        positions = list(range(len(mine)))
        values = [float(row[3]) for row in mine]
        references = [float(row[4]) if row[4] != "n/a" else float("nan") for row in mine]
        axis.barh(positions, values, color="tab:blue", label="model")
        axis.scatter(references, positions, marker="|", s=400, color="tab:orange",
                     linewidths=3, label="exact reference", zorder=3)  # fmt: skip
        axis.set_yticks(positions, [row[2] for row in mine], fontsize=8)
        axis.invert_yaxis()
        axis.set_title(f"{task}: {mine[0][1]}", fontsize=9)
        axis.grid(axis="x", alpha=0.3)
    for axis in list(axes.flat)[len(tasks) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=8, loc="lower right")
    figure.suptitle("latent-lab quickstart (toy sizes): model vs exact reference")
    figure.tight_layout()
    return save_figure(figure, path)
