"""User errors: mistakes in configs, flags, files or prompts; one line, exit code 2."""

from __future__ import annotations

import contextlib
import sys

USER_ERROR_EXIT_CODE = 2


class UserError(Exception):
    """A mistake the user can fix; the message names the field and the fix."""


@contextlib.contextmanager
def exit_on_user_error(prog: str):
    """Turn a UserError into one line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except UserError as error:
        message = " ".join(str(error).split("\n"))
        print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
