"""`latent-lab init TASK NAME`: a new experiment folder from the task's scaffold (the registry's
`Task.scaffold`, e.g. the course's folder for char_stream). Built in a temporary folder and
renamed, so a failure leaves nothing behind; never overwrites.

`latent-lab init task NAME`: a new task, a small working one to edit, in the repository's layout
(latent_lab/tasks/NAME/, data_builders/NAME.py, recipes/NAME.py, its quick config and test;
docs/adding_a_task.md walks through it)."""

from __future__ import annotations

import os
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.files import staged_dir


def scaffold_tasks() -> dict:
    """Task name -> its scaffold reference ("module:function"), for tasks that have one."""
    from latent_lab.tasks.registry import all_tasks

    return {name: task.scaffold for name, task in all_tasks().items() if task.scaffold}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "init",
        help="a new experiment folder (`init TASK NAME`) or a new task (`init task NAME`)",
        description="Create the folder NAME for a new experiment on TASK, with templates to "
        "edit; or, with TASK `task`, scaffold a new task named NAME in this repository.",
    )
    choices = ", ".join(["task", *scaffold_tasks()])
    parser.add_argument("task", metavar="TASK", help=f"one of: {choices}")
    parser.add_argument("name", metavar="NAME", help="the experiment's folder name")
    parser.add_argument(
        "--dir", default=".", metavar="PARENT", help="where to create NAME (default: here)"
    )
    parser.set_defaults(func=init_command)


def init_command(args) -> dict:
    if args.task == "task":
        return create_task(args.name, args.dir)
    folder = create_experiment(args.task, args.name, args.dir)
    files = sorted(str(path) for path in folder.rglob("*") if path.is_file())
    return {"task": args.task, "folder": str(folder), "files": files}


def create_task(name: str, root: str | None) -> dict:
    """Scaffold task `name` into the repository holding recipes/ (or --dir)."""
    from latent_lab.commands.task_template import write_task
    from latent_lab.config import recipes_dir

    base = Path(root) if root not in (None, ".") else recipes_dir().parent
    files = write_task(name, base)
    return {"task": name, "root": str(base), "files": [str(path) for path in files],
            "next": f"python recipes/{name}.py --config quick"}  # fmt: skip


def create_experiment(task: str, name: str, parent: str | os.PathLike = ".") -> Path:
    """Write the experiment folder `parent/name` for `task` and return it."""
    from latent_lab.tasks.registry import load

    scaffolds = scaffold_tasks()
    if task not in scaffolds:
        raise UserError(
            f"TASK: no experiment template for {task!r}; supported: {', '.join(scaffolds)}"
        )
    check_experiment_name(name)
    folder = Path(parent) / name
    if os.path.lexists(folder):
        raise UserError(
            f"{folder} already exists; choose another NAME or --dir (init never overwrites)"
        )
    write_scaffold = load(scaffolds[task])
    try:
        with staged_dir(folder, overwrite=False) as staging:
            write_scaffold(name, Path(staging))
    except FileExistsError:  # created by someone else while we were writing
        raise UserError(f"{folder} already exists; choose another NAME or --dir") from None
    return folder


def check_experiment_name(name: str) -> None:
    separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if not name.strip() or name in (".", "..") or any(sep in name for sep in separators):
        raise UserError(
            f"NAME: {name!r} is not a folder name; give a plain name such as insert-spaces "
            "(no path separators; use --dir for the parent folder)"
        )
    if name.startswith("-") or "\0" in name:
        raise UserError(f"NAME: {name!r} is not a usable folder name; use letters, digits, - or _")
