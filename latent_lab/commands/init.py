"""`latent-lab init char_stream NAME`: lay out an experiment folder the way the course asks
(README.md, config/, data/, out/) with a stream template and training configs to edit."""

from __future__ import annotations

import os
import string
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.files import staged_dir

# For each task: destination path in the new folder -> template file in latent_lab/scaffold/
# (None: an empty file, so git keeps the otherwise empty folder).
SCAFFOLDS = {
    "char_stream": {
        "README.md": "char_stream_README.md",
        "config/stream.yaml": "char_stream_stream.yaml",
        "config/basic.yaml": "char_stream_basic.yaml",
        "config/debug.yaml": "char_stream_debug.yaml",
        "data/.gitkeep": None,
        "out/.gitkeep": None,
    },
}


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create an experiment folder (README.md, config/, data/, out/)",
        description="Create the folder NAME for a new experiment on TASK, with templates to edit.",
    )
    parser.add_argument("task", metavar="TASK", help=f"one of: {', '.join(SCAFFOLDS)}")
    parser.add_argument("name", metavar="NAME", help="the experiment's folder name")
    parser.add_argument(
        "--dir", default=".", metavar="PARENT", help="where to create NAME (default: here)"
    )
    parser.set_defaults(func=init_command)


def init_command(args) -> dict:
    folder = create_experiment(args.task, args.name, args.dir)
    files = sorted(str(folder / relative) for relative in SCAFFOLDS[args.task])
    return {"task": args.task, "folder": str(folder), "files": files}


def create_experiment(task: str, name: str, parent: str | os.PathLike = ".") -> Path:
    """Write the experiment folder `parent/name` for `task` and return it. Built in a
    temporary folder and renamed, so a failure leaves nothing behind; never overwrites."""
    if task not in SCAFFOLDS:
        raise UserError(
            f"TASK: no experiment template for {task!r}; supported: {', '.join(SCAFFOLDS)}"
        )
    check_experiment_name(name)
    folder = Path(parent) / name
    if os.path.lexists(folder):
        raise UserError(
            f"{folder} already exists; choose another NAME or --dir (init never overwrites)"
        )
    try:
        with staged_dir(folder, overwrite=False) as staging:
            write_scaffold(task, name, staging)
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


def write_scaffold(task: str, name: str, target: Path) -> None:
    from latent_lab.tasks.char_stream.scaffold import template_text

    for relative, template in SCAFFOLDS[task].items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "" if template is None else template_text(template)
        if relative == "README.md":
            # $name is the only placeholder; substitute() fails loudly on a stray one.
            text = string.Template(text).substitute(name=name)
        path.write_text(text, encoding="utf-8")
