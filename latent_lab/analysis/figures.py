"""The one way latent_lab makes and saves figures: matplotlib's object API (no pyplot state, no
display needed), written atomically so a reader never sees half a PNG and a failed plot leaves
nothing behind."""

from __future__ import annotations

import io
import os
from pathlib import Path

from latent_lab.files import write_bytes_atomic


def blank_figure(size: tuple[float, float], **options):
    """A Figure on an Agg canvas: drawable and measurable without pyplot or a display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, **options)
    FigureCanvasAgg(figure)
    return figure


def new_figure(rows: int = 1, columns: int = 1, *, size: tuple[float, float], **subplots):
    """(figure, axes grid) with axes always a 2-D array (squeeze=False)."""
    figure = blank_figure(size)
    return figure, figure.subplots(rows, columns, squeeze=False, **subplots)


def save_figure(figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Render `figure` to PNG in memory, then write it to `path` atomically; returns the path."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_bytes_atomic(path, buffer.getvalue())
