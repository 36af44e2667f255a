"""User streams given as `package.module:function`: fn(rng, **options) returns one line
(`prompt + separator + answer`, no newline). The user's code is imported and called here, so
every way it can fail is one line naming the module or the function (no traceback).
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.streams import Stream, bind_options


def _import_stream_module(module_name: str):
    """The user's module; a missing module or one that fails to import is a one-line UserError
    naming it (recipes and `latent-lab` do not put the current folder on the import path)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or module_name
        if module_name == missing or module_name.startswith(missing + "."):  # it, or its package
            raise UserError(
                f"stream: cannot import {module_name!r} (no module named {missing!r}); put "
                "the folder holding it on PYTHONPATH (PYTHONPATH=. when it is in this folder) "
                "or install it"
            ) from None
        raise UserError(f"stream: cannot import {module_name!r}: {error}") from None
    except Exception as error:  # noqa: BLE001  the user's code failed while importing
        raise UserError(
            f"stream: importing {module_name!r} raised {_where(error)}; fix the module"
        ) from None


def _where(error: BaseException) -> str:
    """`TypeError: message (file.py:12)`: the error and the innermost line of the user's code
    that raised it (not importlib's, not this file's; a SyntaxError names its line itself)."""
    ours = (Path(__file__), Path(importlib.__file__))
    frames = [
        frame
        for frame in traceback.extract_tb(error.__traceback__)
        if not frame.filename.startswith("<") and Path(frame.filename) not in ours
    ]
    place = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}{': ' + message if message else ''}{place}"


def function_stream(reference: str, options: Mapping, separator: str | None) -> Stream:
    module_name, function_name = reference.split(":")
    function = getattr(_import_stream_module(module_name), function_name, None)
    if not callable(function):
        raise UserError(
            f"stream: {module_name!r} has no function {function_name!r}; "
            "expected fn(rng, **options) -> str"
        )
    if separator is None:
        raise UserError(
            f"separator: stream {reference!r} is a function; set `separator` to the "
            "text that ends each prompt (e.g. ': ')"
        )
    bind_options(function, options, reference, skip=1)
    options = dict(options)

    def make_lines(rng: np.random.Generator, count: int) -> list[str]:
        try:
            return [function(rng, **options) for _ in range(count)]
        except Exception as error:  # noqa: BLE001  the user's function: one line, no traceback
            raise UserError(
                f"stream: {reference} raised {_where(error)}; fix the function"
            ) from None

    return Stream(reference, separator, make_lines)
