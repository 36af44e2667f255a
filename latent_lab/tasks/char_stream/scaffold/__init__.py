"""`latent-lab init char_stream NAME`: the experiment folder the course asks for (README.md,
config/, data/, out/) with a stream template and training configs to edit. The templates are
package data, so they read as the files users get (YAML stays YAML, the README markdown)."""

from __future__ import annotations

import string
from importlib import resources
from pathlib import Path

# Destination path in the new folder -> template file in this package (None: an empty file, so
# git keeps the otherwise empty folder).
FILES = {
    "README.md": "char_stream_README.md",
    "config/stream.yaml": "char_stream_stream.yaml",
    "config/basic.yaml": "char_stream_basic.yaml",
    "config/debug.yaml": "char_stream_debug.yaml",
    "data/.gitkeep": None,
    "out/.gitkeep": None,
}


def template_text(file_name: str) -> str:
    return resources.files(__name__).joinpath(file_name).read_text(encoding="utf-8")


def write_scaffold(name: str, target: Path) -> None:
    """Write the experiment `name` into the (empty) folder `target`."""
    for relative, template in FILES.items():
        path = Path(target) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "" if template is None else template_text(template)
        if relative == "README.md":
            # $name is the only placeholder; substitute() fails loudly on a stray one.
            text = string.Template(text).substitute(name=name)
        path.write_text(text, encoding="utf-8")
