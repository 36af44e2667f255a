"""Recipe configuration: resolve config names, read YAML safely, parse YAML + command line into
dataclasses (command line over YAML over defaults) with one-line errors for user mistakes."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from latent_lab.errors import UserError

# yaml is imported where it is used: `latent-lab --help` starts faster without it.


def recipes_dir() -> Path:
    """The recipes/ folder (installed beside latent_lab, or named by LATENT_LAB_RECIPES). Found,
    not imported: nothing in latent_lab imports the recipe scripts."""
    override = os.environ.get("LATENT_LAB_RECIPES")
    if override:
        return Path(override)
    import importlib.util

    spec = importlib.util.find_spec("recipes")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("recipes/ not found: run from a checkout or set LATENT_LAB_RECIPES")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def config_dir(task: str) -> Path:
    return recipes_dir() / "configs" / task


def available_configs(task: str) -> list[str]:
    folder = config_dir(task)
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))


def resolve_config(task: str, value: str | os.PathLike) -> Path:
    """A value naming an existing file is used as given; otherwise it resolves inside
    recipes/configs/<task>/, with or without `.yaml`."""
    given = Path(value)
    if given.is_file():
        return given
    folder = config_dir(task)
    for candidate in (folder / given, folder / f"{given}.yaml"):
        if candidate.is_file():
            return candidate
    names = ", ".join(available_configs(task)) or "none"
    raise UserError(
        f"--config: {str(value)!r} is neither a file nor a config in recipes/configs/{task}/ "
        f"(available: {names})"
    )


def load_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping with yaml.safe_load; a missing file or bad YAML is a user error."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}; check the path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{path}: invalid YAML ({' '.join(str(error).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of keys to values at the top level")
    return data


def config_name_of(path: str | os.PathLike) -> str:
    """The name results.json records: the path inside recipes/configs/<task>/ without .yaml,
    or the file stem for a config elsewhere."""
    path = Path(path).resolve()
    root = (recipes_dir() / "configs").resolve()
    try:
        relative = path.relative_to(root)
        return str(Path(*relative.parts[1:]).with_suffix(""))
    except ValueError:
        return path.stem


class LabParser:
    """TrlParser with named configs, unknown keys rejected with one line, and UserError on any
    parse failure. `parse(argv)` returns the dataclass instances and the resolved config path."""

    def __init__(self, dataclass_types, task: str):
        from trl import TrlParser

        class _Parser(TrlParser):
            def error(self, message):  # argparse would print usage and exit; one line instead
                raise UserError(message)

        self.task = task
        self.dataclass_types = tuple(dataclass_types)
        self.parser = _Parser(self.dataclass_types)

    def known_keys(self) -> set[str]:
        """The fields a config or the command line may set: every init field of the argument
        dataclasses (what HfArgumentParser makes an option of)."""
        import dataclasses

        return {f.name for cls in self.dataclass_types for f in dataclasses.fields(cls) if f.init}

    def parse_mapping(self, values: dict, source: str):
        """The dataclasses a config mapping gives, as `--config FILE` holding it would (for
        configs a tool writes, such as a grid's tasks, checked before any is written)."""
        self._check_config(values, source)
        self.parser.set_defaults_with_config(**{k: v for k, v in values.items() if k != "env"})
        try:
            return self.parser.parse_args_into_dataclasses(args=[])
        except UserError as error:
            raise UserError(f"{source}: {error}") from None
        except ValueError as error:
            raise UserError(f"{source}: {' '.join(str(error).split())}") from None

    def parse(self, argv: list[str] | None = None):
        import sys

        argv = list(sys.argv[1:] if argv is None else argv)
        config_path = None
        if "--config" in argv:
            index = argv.index("--config")
            if index + 1 >= len(argv):
                raise UserError("--config needs a value: a config name or a YAML file")
            config_path = resolve_config(self.task, argv[index + 1])
            argv[index + 1] = str(config_path)
            self._check_config_keys(config_path)
        try:
            parsed = self.parser.parse_args_and_config(argv)
        except UserError:
            raise
        except ValueError as error:
            raise UserError(_unknown_args_message(str(error))) from None
        return (*parsed, config_path)

    def _check_config_keys(self, path: Path) -> None:
        self._check_config(load_yaml(path), str(path))

    def _check_config(self, data: dict, source: str) -> None:
        """Every key a field, every number a number: argparse converts only text, so a YAML
        list or mapping where a number belongs would reach the dataclasses as it is."""
        unknown = sorted(set(data) - self.known_keys() - {"env"})
        if unknown:
            raise UserError(
                f"{source}: unknown key {unknown[0]!r} (not a field of recipes/{self.task}.py; "
                f"fix the spelling or remove it; `python recipes/{self.task}.py --help` lists them)"
            )
        kinds = scalar_field_types(self.dataclass_types)
        for key, value in data.items():
            if key in kinds and not is_of_kind(value, *kinds[key]):
                raise UserError(f"{source}: {key}: expected {SCALAR_NAMES[kinds[key][0]]}, got "
                                f"{value!r}")  # fmt: skip


SCALAR_NAMES = {int: "an integer", float: "a number", bool: "true or false"}


def scalar_field_types(dataclass_types) -> dict[str, tuple[type, bool]]:
    """Field name -> (int, float or bool; whether None is allowed), for the fields whose type
    is one of those (or Optional of one)."""
    import types
    import typing

    found = {}
    for cls in dataclass_types:
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # noqa: BLE001  a library's forward reference: leave its fields alone
            continue
        for spec in dataclasses.fields(cls):
            hint = hints.get(spec.name)
            union = isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
            options = typing.get_args(hint) if union else (hint,)
            kinds = [option for option in options if option is not type(None)]
            if len(kinds) == 1 and kinds[0] in SCALAR_NAMES:
                found[spec.name] = (kinds[0], len(kinds) < len(options))
    return found


def is_of_kind(value, kind: type, optional: bool) -> bool:
    """A YAML value fits the field: text (argparse converts it), None where allowed, or the
    type itself (an int for a float, never a float for an int)."""
    if isinstance(value, str) or (value is None and optional):
        return True
    if isinstance(value, bool) or kind is bool:
        return isinstance(value, bool) and kind is bool
    if kind is int:  # not 1.6e+1: argparse leaves a YAML float a float, and Trainer fails late
        return isinstance(value, int)
    return isinstance(value, (int, float))


def _unknown_args_message(message: str) -> str:
    flat = " ".join(message.split())
    if "not used by the HfArgumentParser" in flat:
        unknown = flat.split(":", 1)[-1].strip()
        return f"unknown command-line argument(s) {unknown}; `--help` lists the fields"
    return flat


def dataclass_to_flat_dict(*instances) -> dict:
    """Flatten dataclass instances into one JSON-friendly dict (later instances win)."""
    flat: dict = {}
    for instance in instances:
        for field in dataclasses.fields(instance):
            if _is_secret(field.name) or not field.init:
                continue  # never record tokens (hub_token, ...) nor fields nobody sets
            value = getattr(instance, field.name)
            if isinstance(value, Path):
                value = str(value)
            elif hasattr(value, "value") and not isinstance(value, (int, float, str)):
                value = value.value  # enums
            flat[field.name] = value
    return flat


def _is_secret(name: str) -> bool:
    return name == "token" or name.endswith("_token") or "api_key" in name or "password" in name


def parse_override(text: str) -> tuple[str, object]:
    """Parse `key=value` from `--set`; the value is read as YAML (numbers, lists, booleans)."""
    import yaml

    if "=" not in text:
        raise UserError(f"--set {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise UserError(f"--set {text!r}: empty key; expected key=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def yaml_field(field_name: str, text: str, example: str):
    """A field given as YAML text on the command line (a mapping, a list), parsed safely; bad
    YAML is a one-line UserError naming the field."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise UserError(f"{field_name}: {text!r} is not valid YAML; write e.g. {example}") from None


def argparse_one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make an argparse parser raise UserError (one line, exit 2) instead of printing usage."""

    def error(message):
        raise UserError(message)

    parser.error = error  # type: ignore[method-assign]
    return parser
