"""Atomic file and folder writes, so a failed command leaves nothing half-written; the check
that a folder holds a saved model (light: commands run it before importing torch)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from latent_lab.errors import UserError


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` through a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, data) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike, overwrite: bool = True):
    """Yield a temporary folder beside `final`: on success it replaces `final`, on error it
    is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if final.exists():
        if not overwrite:
            shutil.rmtree(staging, ignore_errors=True)
            raise FileExistsError(final)
        backup = final.with_name(f".{final.name}.old")
        shutil.rmtree(backup, ignore_errors=True)
        os.replace(final, backup)
        os.replace(staging, final)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(staging, final)


def check_model_dir(model_dir: str, field: str) -> Path:
    """The folder of a saved model (config.json inside), or a one-line UserError."""
    path = Path(model_dir)
    if not path.is_dir():
        raise UserError(f"{field}: folder {model_dir!r} does not exist; give a run's output_dir")
    if not (path / "config.json").is_file():
        raise UserError(
            f"{field}: {model_dir!r} holds no saved model (config.json); give a finished run's "
            "output_dir or one of its checkpoint-* folders"
        )
    return path
