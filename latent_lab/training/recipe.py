"""What every recipe script shares: the parser (task fields + model fields + training
arguments) and a `run_recipe` entry point that turns user mistakes into exit code 2."""

from __future__ import annotations

import json
import sys

from latent_lab.config import LabParser
from latent_lab.errors import exit_on_user_error
from latent_lab.models.arguments import ModelArguments
from latent_lab.training.arguments import LabTrainingArguments


def recipe_parser(task: str, *task_argument_classes) -> LabParser:
    return LabParser((*task_argument_classes, ModelArguments, LabTrainingArguments), task)


def run_recipe(parser: LabParser, main, argv: list[str] | None = None):
    """Parse YAML + command line, run `main(*parsed)`, print its summary as the last stdout line
    on the main process."""
    with exit_on_user_error(f"recipes/{parser.task}.py"):
        parsed = parser.parse(argv)
        results = main(*parsed)
    if results:  # only the main process gets results back
        summary = {
            "output_dir": results["output_dir"],
            "metrics": results["metrics"],
            "reference": results["reference"],
        }
        print(json.dumps(summary, sort_keys=True), file=sys.stdout, flush=True)
    return results
