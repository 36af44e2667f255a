"""Task name -> builder class, and the one-line `build_dataset` API beside `latent-lab build`."""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path

from latent_lab.config import load_yaml
from latent_lab.errors import UserError
from latent_lab.tasks.two_hop_data.schema import TYPES as SEMI_SYNTHETIC_TYPES

# Lazy references so `latent-lab --help` does not import every task.
BUILDERS = {
    "char_stream": "data_builders.char_stream:CharStreamBuilder",
    "gssm": "data_builders.gssm:GSSMBuilder",
    "fsm_icl": "data_builders.fsm:FSMBuilder",
    "semi_synthetic": "data_builders.semi_synthetic:SemiSyntheticBuilder",
}
# Each builder's config names (BUILDER_CONFIGS order: the first is the default) and its config's
# own fields, written out so that a wrong --config or --set key is answered without importing
# `datasets` and the task code. tests/test_cli_startup.py checks them against the builders.
CONFIG_NAMES = {
    "char_stream": ("insert_spaces", "count_by_twos", "translate"),
    "gssm": ("experiment1", "experiment1_small_Z", "experiment2_independent", "experiment2_pairs",
             "experiment2_chain", "experiment2_dense"),
    "fsm_icl": ("5s5a", "3s3a", "5s8a", "8s8a", "absorbing_5s5a"),
    "semi_synthetic": SEMI_SYNTHETIC_TYPES,
}  # fmt: skip
FIELD_NAMES = {
    "char_stream": ("stream", "stream_options", "separator", "num_chars", "train_fraction",
                    "seed"),
    "gssm": ("graph", "alpha_X", "alpha_Z", "num_train", "num_validation", "seq_len",
             "graph_seed", "data_seed", "context"),
    "fsm_icl": ("num_states", "num_actions", "absorbing", "num_demos", "demo_length",
                "query_length", "length_jitter", "score_demonstrations", "num_train",
                "num_validation", "num_test", "seed", "s_max", "a_max"),
    "semi_synthetic": ("type", "seed", "num_shuffles"),
}  # fmt: skip
# The graphs shipped with the gssm builder (names usable as `graph:` and as --config).
GSSM_GRAPHS_DIR = Path(__file__).resolve().parent / "gssm_graphs"


def check_task(task: str) -> None:
    if task not in BUILDERS:
        raise UserError(f"unknown task {task!r}; choose one of {', '.join(sorted(BUILDERS))}")


def builder_class(task: str):
    check_task(task)
    module_name, class_name = BUILDERS[task].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def config_names(task: str) -> list[str]:
    check_task(task)
    return list(CONFIG_NAMES[task])


def field_names(task: str) -> tuple[str, ...]:
    """config_fields' names, without importing `datasets`."""
    check_task(task)
    return FIELD_NAMES[task]


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
    builder = make_builder(task, config_name, cache_dir=cache_dir, **fields)
    builder.download_and_prepare()
    return builder.as_dataset()
