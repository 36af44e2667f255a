"""What every recipe script shares: the parser (task fields + model fields + training
arguments) and a `run_recipe` entry point that turns user mistakes into exit code 2 and Ctrl-C
into one line naming the checkpoint to resume from (exit code 130: 128 + SIGINT, as shells and
schedulers expect; 2 stays "fix your input")."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

from latent_lab.config import LabParser
from latent_lab.errors import exit_on_user_error
from latent_lab.models.arguments import ModelArguments
from latent_lab.training.arguments import LabTrainingArguments

INTERRUPTED_EXIT_CODE = 130


def recipe_parser(task: str, *task_argument_classes) -> LabParser:
    return LabParser((*task_argument_classes, ModelArguments, LabTrainingArguments), task)


def run_recipe(parser: LabParser, main, argv: list[str] | None = None):
    """Parse YAML + command line, run `main(*parsed)`, print its summary as the last stdout line
    on the main process."""
    prog = f"recipes/{parser.task}.py"
    parsed, results, interrupted = (), None, False
    try:
        with exit_on_user_error(prog):
            parsed = parser.parse(argv)
            results = main(*parsed)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:  # out of the except block: the interrupted run's frames can go now
        gc.collect()  # its progress bars print their last state as they close, before this line
        print(f"{prog}: {interrupted_message(parsed)}", file=sys.stderr, flush=True)
        raise SystemExit(INTERRUPTED_EXIT_CODE)
    if results:  # only the main process gets results back
        summary = {
            "output_dir": results["output_dir"],
            "metrics": results["metrics"],
            "reference": results["reference"],
        }
        print(json.dumps(summary, sort_keys=True), file=sys.stdout, flush=True)
    return results


def interrupted_message(parsed) -> str:
    """What Ctrl-C leaves: the newest complete checkpoint and how to resume from it."""
    training_args = next((a for a in parsed if hasattr(a, "resume")), None)
    folder = getattr(training_args, "run_folder", None)
    if folder is None:
        return "interrupted before training started; nothing to resume"
    checkpoint = newest_checkpoint(folder)
    if checkpoint is None:
        return (f"interrupted; no complete checkpoint in {folder} yet, so nothing to resume: "
                "run the command again to start over")  # fmt: skip
    return (f"interrupted; the newest complete checkpoint is {checkpoint}: run the same command "
            "with --resume true to continue from it")  # fmt: skip


def newest_checkpoint(folder: str) -> str | None:
    """The run folder's last complete checkpoint, or (a curriculum) its stages' newest."""
    from latent_lab.training.runner import last_checkpoint

    found = last_checkpoint(folder)
    if found is not None or not Path(folder).is_dir():
        return found
    stages = [last_checkpoint(str(sub)) for sub in Path(folder).iterdir() if sub.is_dir()]
    stages = [Path(found) for found in stages if found is not None]
    newest = max(
        stages, key=lambda path: (path / "trainer_state.json").stat().st_mtime, default=None
    )
    return None if newest is None else str(newest)
