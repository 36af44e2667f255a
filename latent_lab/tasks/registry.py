"""The task registry: every task package registers one `Task` as `TASK` in its __init__.py.

Everything that lists tasks reads this registry (the CLI, build, quickstart, launch, aggregate,
init), so a task's name appears nowhere else in shared code. Tasks are the subpackages of
latent_lab.tasks that define TASK: a new task is a new folder (`latent-lab init task NAME`).
A Task holds names and "module:attribute" references, not objects, so listing tasks or
answering an argument error imports no task code and no heavy library.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field

from latent_lab.errors import UserError


@dataclass(frozen=True)
class Task:
    name: str
    # One line: the question the task helps answer (quickstart, --help, the README table).
    question: str
    # The datasets builder class, "data_builders.<name>:<Class>", imported only to build data.
    builder: str
    # Builder config names (the first is the default) and the config's own fields, listed here
    # so a mistyped --config or --set key is answered without importing datasets.
    config_names: tuple[str, ...]
    field_names: tuple[str, ...]
    # The recipe's data arguments: a dataclass whose fields are the builder config's.
    arguments: str
    # The Trainer metrics ("module:callable") and the exact references results.json carries.
    metrics: str
    references: tuple[str, ...]
    # The tiny CPU config in recipes/configs/<recipe>/ (smoke tests, `evaluate` examples).
    quick_config: str = "quick"
    # `latent-lab quickstart` (make demo): the config it trains, and the one metric it shows
    # beside that metric's exact optimum (reference_for) and trivial baseline (baseline_for).
    demo_config: str = "demo"
    headline: str | None = None
    # Extra CLI verbs: "module:function" called with argparse subparsers (e.g. `gssm sample`).
    commands: str | None = None
    # `latent-lab init <name> DIR` scaffolds an experiment folder: "module:function".
    scaffold: str | None = None
    # `latent-lab probe` targets: "module:function" returning {name: ProbeTarget}
    # (latent_lab/analysis/probe_settings.py), from a module that imports nothing heavy.
    probe_targets: str | None = None
    # Recipe scripts recipes/<name>.py -> their make_parser ("module:function"); default: one
    # recipe named after the task, its parser in latent_lab/tasks/<task>/arguments.py.
    recipes: dict[str, str] = field(default_factory=dict)

    def recipe_parsers(self) -> dict[str, str]:
        return self.recipes or {self.name: f"latent_lab.tasks.{self.name}.arguments:make_parser"}


def load(reference: str):
    """Import "package.module:attribute" and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


@functools.cache
def all_tasks() -> dict[str, Task]:
    """Task name -> Task, for every subpackage of latent_lab.tasks that defines TASK."""
    import latent_lab.tasks as package

    found = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name):
        if not info.ispkg:
            continue
        task = getattr(importlib.import_module(f"latent_lab.tasks.{info.name}"), "TASK", None)
        if isinstance(task, Task):
            found[task.name] = task
    return found


def task_names() -> list[str]:
    return list(all_tasks())


def recipe_parser_reference(recipe: str) -> str | None:
    """The make_parser of recipes/<recipe>.py, from the task that ships it (None: no task)."""
    for task in all_tasks().values():
        if recipe in task.recipe_parsers():
            return task.recipe_parsers()[recipe]
    return None


def get_task(name: str) -> Task:
    tasks = all_tasks()
    if name not in tasks:
        raise UserError(f"unknown task {name!r}; choose one of {', '.join(tasks)}")
    return tasks[name]
