"""The results pages' CSV files: written byte-stable (fixed column order, rows sorted by the
caller, floats as their shortest exact repr or to fixed significant digits), read as text."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from latent_lab.errors import UserError


def cell(value, digits: int | None = None) -> str:
    if value is None or isinstance(value, float) and not math.isfinite(value):
        return ""  # missing or NaN: an empty cell, read back as None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if digits is None else format(value, f".{digits}g")
    return str(value)


def csv_text(rows: list[dict], columns, digits: int | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(name), digits) for name in columns])
    return buffer.getvalue()


def read_rows(path: Path, command: str) -> list[dict]:
    """The rows of a collected CSV; a missing file says which command makes it."""
    if not path.is_file():
        raise UserError(
            f"{path}: no such file; run `{command}` first (it writes the CSVs "
            "the page is made from)"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def number(text) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
