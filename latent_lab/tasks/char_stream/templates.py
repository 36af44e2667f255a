"""YAML template streams: each line is a template whose fields are drawn at random per line.

    template: "{w}: {w|spaced}"
    separator: ": "
    fields:
      w: {word: {alphabet: abcde, min_len: 1, max_len: 5}}
      n: {range: [0, 100]}        # integers 0 <= n < 100, as Python's range
      c: {choices: [red, green]}

`{name}` writes a field and `{name|filter|...}` transforms it (upper, lower, reverse, spaced,
len, add:K). A field is drawn once per line, so it may appear several times with the same
value and answers can be functions of prompts. `{{` and `}}` write literal braces. No eval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from latent_lab.config import load_yaml
from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.streams import Stream, check_separator

TEMPLATE_KEYS = ("template", "separator", "fields", "description")
TEXT_FILTERS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "reverse": lambda text: text[::-1],
    "spaced": " ".join,
}
FILTER_NAMES = (*TEXT_FILTERS, "len", "add:K")
FIELD_KINDS = ("word", "range", "choices")
WORD_DEFAULTS = {"alphabet": "abcde", "min_len": 1, "max_len": 3}
NAME = re.compile(r"^[A-Za-z_]\w*$")
# `{{` and `}}` are literal braces; `{...}` a placeholder; a lone brace is a mistake.
TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True)
class Placeholder:
    field: str
    filters: tuple[tuple[str, int | None], ...]


def _parse_filter(text: str, where: str) -> tuple[str, int | None]:
    name, colon, argument = (piece.strip() for piece in text.partition(":"))
    if name == "add":
        try:
            return "add", int(argument)
        except ValueError:
            raise UserError(f"{where}: filter {text!r} needs an integer, e.g. add:3") from None
    if (name in TEXT_FILTERS or name == "len") and not colon:
        return name, None
    raise UserError(f"{where}: unknown filter {text!r}; choose from {', '.join(FILTER_NAMES)}")


def _parse_placeholder(body: str, where: str) -> Placeholder:
    field, *filters = (piece.strip() for piece in body.split("|"))
    if not NAME.match(field):
        raise UserError(f"{where}: placeholder {{{body}}} must start with a field name")
    return Placeholder(field, tuple(_parse_filter(f, where) for f in filters))


def parse_template(template: str, where: str) -> list[str | Placeholder]:
    """Literal text and placeholders, in order; adjacent literals merged."""
    parts: list[str | Placeholder] = []
    position = 0
    for match in TOKEN.finditer(template):
        parts.append(template[position : match.start()])
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif token in ("{", "}"):
            raise UserError(
                f"{where}: unbalanced {token!r} in template {template!r}; "
                "write {{ or }} for a literal brace"
            )
        else:
            parts.append(_parse_placeholder(match.group(1), where))
        position = match.end()
    parts.append(template[position:])
    merged: list[str | Placeholder] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged


def _word_field(spec, where: str):
    spec = {} if spec is None else spec
    if not isinstance(spec, Mapping) or set(spec) - {"alphabet", "min_len", "max_len"}:
        raise UserError(f"{where}: word takes {{alphabet, min_len, max_len}}, got {spec!r}")
    spec = {**WORD_DEFAULTS, **spec}
    alphabet, min_len, max_len = spec["alphabet"], spec["min_len"], spec["max_len"]
    if not isinstance(alphabet, str) or not alphabet:
        raise UserError(f"{where}: alphabet must be text (quote it), got {alphabet!r}")
    lengths_ok = all(isinstance(n, int) and not isinstance(n, bool) for n in (min_len, max_len))
    if not lengths_ok or not 1 <= min_len <= max_len:
        raise UserError(f"{where}: need integers 1 <= min_len <= max_len, got {min_len}, {max_len}")
    letters = list(alphabet)

    def draw(rng: np.random.Generator) -> str:
        length = int(rng.integers(min_len, max_len + 1))
        return "".join(letters[i] for i in rng.integers(len(letters), size=length))

    return draw, "str"


def _range_field(spec, where: str):
    valid = isinstance(spec, list) and len(spec) == 2
    valid = valid and all(isinstance(n, int) and not isinstance(n, bool) for n in spec)
    if not valid or spec[0] >= spec[1]:
        raise UserError(f"{where}: range is [low, high] with integers low < high, got {spec!r}")
    low, high = spec
    return (lambda rng: int(rng.integers(low, high))), "int"


def _choices_field(spec, where: str):
    if not isinstance(spec, list) or not spec:
        raise UserError(f"{where}: choices is a non-empty list, got {spec!r}")
    for item in spec:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise UserError(f"{where}: choice {item!r} is not text or a number (quote it)")
    integers = all(isinstance(item, int) for item in spec)
    values = list(spec) if integers else [str(item) for item in spec]
    return (lambda rng: values[int(rng.integers(len(values)))]), ("int" if integers else "str")


def _field_sampler(name, spec, where: str):
    """(draw(rng) -> value, 'int' | 'str') for one field such as {range: [0, 100]}."""
    where = f"{where}: field {name!r}"
    if not isinstance(name, str) or not NAME.match(name):
        raise UserError(f"{where}: field names are identifiers such as w or word_1")
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in FIELD_KINDS:
        raise UserError(
            f"{where}: expected one of {', '.join(FIELD_KINDS)}, e.g. {{range: [0, 10]}}"
        )
    kind, options = next(iter(spec.items()))
    makers = {"word": _word_field, "range": _range_field, "choices": _choices_field}
    return makers[kind](options, where)


def _check_placeholder(placeholder: Placeholder, field_types: dict, where: str) -> None:
    if placeholder.field not in field_types:
        known = ", ".join(field_types) or "none"
        raise UserError(f"{where}: {{{placeholder.field}}} is not a field (fields: {known})")
    value_type = field_types[placeholder.field]
    for name, _ in placeholder.filters:
        if name == "add" and value_type != "int":
            raise UserError(
                f"{where}: add:K needs a number but {placeholder.field!r} is text there; "
                "use a range field, or len before add"
            )
        value_type = "int" if name in ("len", "add") else "str"


def _render(value, filters) -> str:
    for name, argument in filters:
        if name == "len":
            value = len(str(value))
        elif name == "add":
            value = value + argument
        else:
            value = TEXT_FILTERS[name](str(value))
    return str(value)


class TemplateLine:
    """Draws every field once, renders the template, and checks the prompt ends where meant."""

    def __init__(self, parts, samplers: dict, separator: str, where: str):
        self.parts, self.samplers, self.separator, self.where = parts, samplers, separator, where
        literal_with_separator = (
            i for i, part in enumerate(parts) if isinstance(part, str) and separator in part
        )
        self.split_part = next(literal_with_separator, None)

    def render(self, values: Mapping) -> tuple[str, int | None]:
        """(line, where the template means its separator to start) for given field values."""
        pieces, intended_split, length = [], None, 0
        for index, part in enumerate(self.parts):
            text = part if isinstance(part, str) else _render(values[part.field], part.filters)
            if index == self.split_part:
                intended_split = length + text.find(self.separator)
            pieces.append(text)
            length += len(text)
        return "".join(pieces), intended_split

    def __call__(self, rng: np.random.Generator) -> str:
        values = {name: draw(rng) for name, draw in self.samplers.items()}
        line, intended_split = self.render(values)
        if intended_split is not None and line.find(self.separator) != intended_split:
            raise UserError(
                f"{self.where}: line {line!r} has the separator {self.separator!r} inside a "
                "field value, before the prompt's end; change the field or the separator"
            )
        return line


def _template_text(data: dict, where: str) -> str:
    unknown = sorted(set(data) - set(TEMPLATE_KEYS))
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}; keys are {', '.join(TEMPLATE_KEYS)}")
    template = data.get("template")
    if not isinstance(template, str) or not template or template.splitlines() != [template]:
        raise UserError(f"{where}: template must be one line of text, got {template!r}")
    if not isinstance(data.get("fields"), Mapping):
        raise UserError(f"{where}: fields must map names to {{word|range|choices: ...}}")
    return template


def template_stream(path: str, separator: str | None = None) -> Stream:
    """Load a YAML template stream; `separator` (None: the file's) ends every prompt."""
    line, _ = load_template(path, separator)
    return Stream(path, line.separator, lambda rng, count: [line(rng) for _ in range(count)])


def load_template(path: str, separator: str | None = None) -> tuple[TemplateLine, dict]:
    """The checked template of a YAML stream and its field specs ({name: {kind: options}}, in
    drawing order): what the stream draws, for line_distribution.py to enumerate."""
    where = f"template {path}"
    data = load_yaml(path)
    template = _template_text(data, where)
    separator = data.get("separator") if separator is None else separator
    if separator is None:
        raise UserError(f"{where}: add `separator:` (the text that ends each prompt, e.g. ': ')")
    check_separator(separator)
    fields = {name: _field_sampler(name, spec, where) for name, spec in data["fields"].items()}
    parts = parse_template(template, where)
    placeholders = [part for part in parts if isinstance(part, Placeholder)]
    if not placeholders:
        raise UserError(f"{where}: the template has no {{field}}, so every line is the same")
    field_types = {name: kind for name, (_, kind) in fields.items()}
    for placeholder in placeholders:
        _check_placeholder(placeholder, field_types, where)
    unused = sorted(set(fields) - {p.field for p in placeholders})
    if unused:
        raise UserError(f"{where}: field {unused[0]!r} is not used in the template; remove it")
    samplers = {name: draw for name, (draw, _) in fields.items()}
    return TemplateLine(parts, samplers, separator, where), dict(data["fields"])
