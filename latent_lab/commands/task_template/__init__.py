"""`latent-lab init task NAME`: a small working task in the layout every task follows, from the
templates in this folder (package data). Every file is written to a temporary name first and
renamed only when all of them are ready, so a failure leaves nothing behind; never overwrites.
"""

from __future__ import annotations

import keyword
import string
from importlib import resources
from pathlib import Path

from latent_lab.errors import UserError

# Template -> destination, relative to the repository root ($name: the task's name).
FILES = {
    "task_init.py.tmpl": "latent_lab/tasks/$name/__init__.py",
    "config.py.tmpl": "latent_lab/tasks/$name/config.py",
    "generator.py.tmpl": "latent_lab/tasks/$name/generator.py",
    "arguments.py.tmpl": "latent_lab/tasks/$name/arguments.py",
    "run.py.tmpl": "latent_lab/tasks/$name/run.py",
    "builder.py.tmpl": "data_builders/$name.py",
    "recipe.py.tmpl": "recipes/$name.py",
    "quick.yaml.tmpl": "recipes/configs/$name/quick.yaml",
    "test.py.tmpl": "tests/test_$name.py",
}


def check_task_name(name: str) -> None:
    from latent_lab.tasks.registry import task_names

    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower():
        raise UserError(
            f"NAME: {name!r} is not a task name; use lower-case letters, digits and _ "
            "(a Python module name), e.g. parity_task"
        )
    if name in task_names() or name in ("task", "registry", "builders", "data_arguments"):
        raise UserError(f"NAME: {name!r} is taken; choose another task name")


def planned_files(name: str, root: Path) -> dict[Path, str]:
    """Destination -> text of every file the task gets."""
    values = {"name": name, "Name": "".join(part.title() for part in name.split("_"))}
    package = resources.files(__name__)
    return {
        root / string.Template(destination).substitute(values): string.Template(
            package.joinpath(template).read_text(encoding="utf-8")
        ).substitute(values)
        for template, destination in FILES.items()
    }


def write_task(name: str, root: Path) -> list[Path]:
    """Write task `name` into the repository at `root`; returns the files written."""
    from latent_lab.files import write_text_atomic

    check_task_name(name)
    files = planned_files(name, root)
    existing = [path for path in files if path.exists() or path.parent.is_file()]
    if existing:
        raise UserError(
            f"{existing[0]} already exists; choose another NAME (init never overwrites)"
        )
    new_folders = sorted({p for path in files for p in path.parents if not p.exists()})
    staged = {}
    try:
        for path, text in files.items():
            staged[path] = write_text_atomic(path.with_name(f".{path.name}.new"), text)
        for path, temporary in staged.items():
            temporary.replace(path)
    except BaseException:
        for path, temporary in staged.items():
            temporary.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
        for folder in sorted(new_folders, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    return list(files)
