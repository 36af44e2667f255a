"""A task's datasets builder, reached through the registry, and the one-line `build_dataset` API
beside `latent-lab build` (same cache, same seeds)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from latent_lab.config import load_yaml
from latent_lab.errors import UserError
from latent_lab.tasks.registry import get_task, load


def builder_class(task: str):
    return load(get_task(task).builder)


def config_names(task: str) -> list[str]:
    """The builder's config names (the first is the default), without importing datasets."""
    return list(get_task(task).config_names)


def field_names(task: str) -> tuple[str, ...]:
    """config_fields' names, without importing `datasets`."""
    return get_task(task).field_names


def config_fields(task: str) -> dict[str, dataclasses.Field]:
    """The builder config's own fields (what YAML files and --set may name)."""
    import datasets

    base = {f.name for f in dataclasses.fields(datasets.BuilderConfig)}
    config_class = builder_class(task).BUILDER_CONFIG_CLASS
    return {f.name: f for f in dataclasses.fields(config_class) if f.name not in base}


def resolve_builder_fields(task: str, config: str | None, overrides: dict) -> tuple[str, dict]:
    """Turn `--config NAME|FILE` plus overrides into (builder config name, field overrides).
    A YAML file may name its base with `config_name:` and lists builder fields."""
    names = config_names(task)
    fields: dict = {}
    if config is None:
        name = names[0]
    elif config in names:
        name = config
    elif Path(config).suffix in (".yaml", ".yml") or Path(config).is_file():
        data = load_yaml(config)
        name = data.pop("config_name", names[0])
        if name not in names:
            raise UserError(f"{config}: config_name {name!r} is not one of {', '.join(names)}")
        fields.update(data)
    else:
        raise UserError(
            f"--config: {config!r} is neither a {task} builder config ({', '.join(names)}) "
            "nor a YAML file of builder fields"
        )
    fields.update(overrides)
    known = field_names(task)
    for key in fields:
        if key not in known:
            raise UserError(
                f"{key!r} is not a {task} builder field; choose from {', '.join(sorted(known))}"
            )
    return name, fields


def make_builder(task: str, config_name: str | None = None, cache_dir=None, **fields):
    """The task's builder with its named config and field overrides, validated."""
    name, fields = resolve_builder_fields(task, config_name, fields)
    cls = builder_class(task)
    cache_dir = cache_dir or os.environ.get("LATENT_LAB_DATA_CACHE")
    try:
        builder = cls(config_name=name, cache_dir=cache_dir, **fields)
    except (ValueError, TypeError) as error:
        raise UserError(f"{task} builder config {name!r}: {' '.join(str(error).split())}") from None
    # datasets sets overrides with setattr, skipping __post_init__: re-run it to validate.
    dataclasses.replace(builder.config)
    return builder


def build_dataset(task: str, config_name: str | None = None, cache_dir=None, **fields):
    """Build (or reuse from cache) the task's DatasetDict."""
    return prepare_dataset(make_builder(task, config_name, cache_dir=cache_dir, **fields))


def prepare_dataset(builder):
    """builder.download_and_prepare() and its DatasetDict. A UserError raised while generating
    (a user's stream function, a value only the data reveals) comes out as itself, one line:
    datasets wraps whatever a generator raises in DatasetGenerationError."""
    from datasets.exceptions import DatasetGenerationError

    try:
        builder.download_and_prepare()
    except DatasetGenerationError as error:
        if isinstance(error.__cause__, UserError):
            raise error.__cause__ from None
        raise
    return builder.as_dataset()
