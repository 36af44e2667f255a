"""`latent-lab evaluate --model DIR_OR_HUB_ID --task TASK --config NAME [--output-dir DIR]`:
score any causal LM on a task's evaluation splits beside the exact references, no training.
It runs the task's recipe with `--evaluate_model` (the runner's eval-only path) in a fresh
process, as `accelerate launch` would, so the numbers are the recipe's own."""

from __future__ import annotations

import json
import re
from pathlib import Path

from latent_lab.errors import UserError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a saved or Hub model on a task's evaluation splits (exact references)",
        description=(
            "Evaluate MODEL (a saved model folder, e.g. a finished run, or a Hub id) on the "
            "evaluation splits of TASK built with config NAME, as the task's recipe does after "
            "training: the same metrics, records (positions.parquet), report and results.json. "
            "Other flags go to the recipe (e.g. --num_test 2000). The last stdout line is JSON "
            "with metrics and reference."
        ),
    )
    parser.add_argument("--model", required=True, metavar="DIR_OR_HUB_ID")
    parser.add_argument("--task", required=True, metavar="TASK")
    parser.add_argument("--config", required=True, metavar="NAME",
                        help="the recipe config whose data to score on (e.g. quick)")  # fmt: skip
    parser.add_argument("--output-dir", metavar="DIR",
                        help="default: runs/evaluate/<config>-<model name>")  # fmt: skip
    # Any other flag goes to the recipe (e.g. --num_test 2000, --per_device_eval_batch_size 8).
    parser.set_defaults(func=evaluate_command, passes_extra_flags=True)


def default_output_dir(model: str, config: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{Path(config).stem}-{model.rstrip('/')}")
    return Path("runs") / "evaluate" / name.strip("-.")


def evaluate_command(args) -> dict:
    import subprocess
    import sys

    from latent_lab.config import recipes_dir
    from latent_lab.tasks.registry import get_task

    task = get_task(args.task)
    recipe = recipes_dir() / f"{task.name}.py"
    if not recipe.is_file():
        raise UserError(f"--task: {task.name} has no recipe script {recipe}")
    output_dir = Path(args.output_dir) if args.output_dir else default_output_dir(
        args.model, args.config
    )  # fmt: skip
    command = [sys.executable, str(recipe), "--config", args.config,
               "--evaluate_model", args.model, "--output_dir", str(output_dir),
               *args.extra_flags]  # fmt: skip
    # The recipe reports its own mistakes (one line, exit 2) and its progress on stderr.
    process = subprocess.run(command, stdout=subprocess.DEVNULL)
    if process.returncode != 0:
        raise SystemExit(process.returncode)
    results = json.loads((output_dir / "results.json").read_text())
    return {"metrics": results["metrics"], "reference": results["reference"],
            "output_dir": str(output_dir), "model": args.model}  # fmt: skip
