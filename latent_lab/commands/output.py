"""Where command output goes: stdout holds tables and the final JSON line, everything else
(progress bars, library chatter) is sent to stderr while a command runs."""

from __future__ import annotations

import sys

_stdout = None


def set_stdout(stream) -> None:
    global _stdout
    _stdout = stream


def emit(text: str) -> None:
    """Print human-readable results (tables) on stdout, before the JSON summary."""
    stream = _stdout or sys.stdout
    stream.write(text if text.endswith("\n") else text + "\n")
    stream.flush()
