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


def current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder, then rename; the file
    gets the umask's usual mode (mkstemp's own 0600 would make it private)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """write_bytes_atomic for text (UTF-8)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, data) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike, overwrite: bool = True):
    """Yield a temporary folder beside `final`: on success it replaces `final`, on error it
    is removed."""
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise UserError(f"output folder {str(final)!r} is a file; choose a folder path")
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp's 0700 would make it private
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


def check_output_path(path: str | os.PathLike, field: str, *, folder: bool = True) -> Path:
    """Check, before any work, that `path` can be written: not an existing file when a folder is
    wanted (nor a folder when a file is), no file among its parents, and the first existing
    parent writable. One-line UserError naming `field` otherwise; nothing is created."""
    path = Path(path).expanduser()
    if folder and path.exists() and not path.is_dir():
        raise UserError(f"{field}: {str(path)!r} is a file; give a folder path")
    if not folder and path.is_dir():
        raise UserError(f"{field}: {str(path)!r} is a folder; give a file path")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"{field}: {str(parent)!r} is a file, so {str(path)!r} cannot be made")
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK | os.X_OK if target.is_dir() else os.W_OK):
        raise UserError(f"{field}: {str(target)!r} is not writable; choose another path")
    return path


def names_a_folder(name: str) -> bool:
    """A model name that is a path (it exists, or starts like one, or has more than one "/"),
    not a Hub id (NAME or NAMESPACE/NAME)."""
    return Path(name).exists() or name.startswith((".", "/", "~")) or name.count("/") > 1


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
