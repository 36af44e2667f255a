"""A recipe's data arguments, derived from its task's builder config: one definition of the
data fields, validated once, by the builder config.

    GSSMArguments = data_arguments("GSSMArguments", GSSMDataConfig, "experiment1", doc=...,
                                   recipe_fields=[("onfly", bool, field(default=False, ...))])

Every builder field becomes an optional override (None keeps the value of the builder config
named by `dataset`), so a recipe YAML or the command line can set any of them; mapping-valued
fields are given as YAML text (`--stream_options '{max_len: 5}'`). `builder_fields()` is what
the recipe hands the builder; `check()` builds the config (no data) so a bad value is reported
before any folder is made.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from latent_lab.config import yaml_field
from latent_lab.errors import UserError

# Split names a shift may not take: the runner's own evaluations.
RESERVED_SPLITS = ("train", "validation", "test", "eval")


class DataArguments:
    """Base of the derived classes: the builder's task, config and field overrides."""

    task: typing.ClassVar[str]
    config_class: typing.ClassVar[type]
    yaml_fields: typing.ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        self._check_shifts()
        for name in self.yaml_fields:
            value = getattr(self, name)
            if isinstance(value, str):
                value = yaml_field(name, value, "{key: value}")
                setattr(self, name, value)
            if value is not None and not isinstance(value, dict):
                raise UserError(f"{name}: expected a mapping such as {{key: value}}, got {value!r}")

    def shifts(self) -> dict[str, dict]:
        """eval_shifts as {name: builder fields}: this run's fields with the shift's on top."""
        return {name: {**self.builder_fields(), **fields}
                for name, fields in (self.eval_shifts or {}).items()}  # fmt: skip

    def shift_builders(self) -> dict:
        """{name: builder} of every eval shift, each validated (no data generated yet)."""
        from latent_lab.tasks.builders import make_builder

        builders = {}
        for name, fields in self.shifts().items():
            try:
                builders[name] = make_builder(self.task, self.dataset, **fields)
            except UserError as error:
                raise UserError(f"eval_shifts.{name}: {error}") from None
        return builders

    def builder_fields(self) -> dict:
        """The builder fields this run sets (None: the named config's value)."""
        names = [f.name for f in dataclasses.fields(self.config_class)]
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def check(self):
        """Make the builder (validating every field, and every eval shift's) without generating
        data; returns it."""
        from latent_lab.tasks.builders import make_builder

        builder = make_builder(self.task, self.dataset, **self.builder_fields())
        self.shift_builders()
        return builder

    def _check_shifts(self) -> None:
        """eval_shifts: YAML text or a mapping of split name -> {builder field: value}."""
        shifts = self.eval_shifts
        if isinstance(shifts, str):
            shifts = yaml_field("eval_shifts", shifts, "{more_demos: {demo_length: 16}}")
        if shifts is None:
            return
        names = [f.name for f in dataclasses.fields(self.config_class)]
        if not isinstance(shifts, dict):
            raise UserError("eval_shifts: expected a mapping of split name -> builder fields")
        for name, fields in shifts.items():
            if not isinstance(name, str) or not name.isidentifier() or name in RESERVED_SPLITS:
                raise UserError(f"eval_shifts: {name!r} is not a usable split name; use a plain "
                                "name such as more_demos")  # fmt: skip
            if not isinstance(fields, dict) or not fields:
                raise UserError(f"eval_shifts.{name}: expected a mapping of builder fields")
            for key in fields:
                if key not in names:
                    raise UserError(f"eval_shifts.{name}: {key!r} is not a {self.task} builder "
                                    f"field; choose from {', '.join(names)}")  # fmt: skip
        self.eval_shifts = shifts


def _options(annotation) -> list:
    """The non-None types of an annotation (X, or X | None)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return [option for option in typing.get_args(annotation) if option is not type(None)]
    return [annotation]


def _is_mapping(annotation) -> bool:
    return any(
        option is dict or typing.get_origin(option) is dict for option in _options(annotation)
    )


def _command_line_type(annotation) -> type:
    """The type HfArgumentParser reads for a builder field: mappings are YAML text."""
    if _is_mapping(annotation):
        return str
    options = _options(annotation)
    if len(options) != 1:
        raise TypeError(f"builder field type {annotation!r}: one type (or Optional) expected")
    return options[0]


def data_arguments(name, config_class, default_config, *, task, doc, recipe_fields=()):
    """A dataclass: `dataset` (the builder config to start from), every field of
    `config_class` as an optional override, then `recipe_fields` (name, type, field)."""
    hints = typing.get_type_hints(config_class)
    dataset_help = "builder config to start from; the fields below override it"
    specs = [
        ("dataset", str, dataclasses.field(default=default_config, metadata={"help": dataset_help}))
    ]
    yaml_fields = []
    for spec in dataclasses.fields(config_class):
        kind = _command_line_type(hints[spec.name])
        if _is_mapping(hints[spec.name]):
            yaml_fields.append(spec.name)
        help_text = spec.metadata.get("help", spec.name)
        metadata = {"help": f"{help_text} (default: the builder config's)"}
        specs.append((spec.name, kind | None, dataclasses.field(default=None, metadata=metadata)))
    specs.extend(recipe_fields)
    shifts_help = ("extra evaluation splits, each with its own exact reference: a YAML mapping "
                   "of name -> builder fields, e.g. '{more_demos: {demo_length: 16}}'")  # fmt: skip
    specs.append(("eval_shifts", str | None, dataclasses.field(
        default=None, metadata={"help": shifts_help})))  # fmt: skip
    namespace = {
        "__doc__": doc,
        "task": task,
        "config_class": config_class,
        "yaml_fields": tuple(yaml_fields),
        "__module__": config_class.__module__,
    }
    return dataclasses.make_dataclass(name, specs, bases=(DataArguments,), namespace=namespace)
