"""Templates for `latent-lab init`: the files of a new experiment folder, kept as package data
so they read as the files users get (YAML stays YAML, the README stays markdown)."""

from __future__ import annotations

from importlib import resources


def template_text(file_name: str) -> str:
    return resources.files(__name__).joinpath(file_name).read_text(encoding="utf-8")
