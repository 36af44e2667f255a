"""Character streams: seeded generators of `prompt + answer` lines for character-level models.

A line is `prompt + answer + "\\n"` and the prompt ends with the stream's separator, so a model
given `"\\n" + prompt` should produce `answer + "\\n"`, and answers can be scored exactly.
Streams are built-ins (below), a `package.module:function` reference (function_streams.py), or
a YAML template (templates.py). Pure numpy/stdlib: no Hugging Face imports.
What a stream must produce: docs/spec/char_streams.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from latent_lab.errors import UserError

SPANISH_TO_ENGLISH = {
    "uno": "one", "dos": "two", "tres": "three", "cuatro": "four", "cinco": "five",
    "seis": "six", "siete": "seven", "ocho": "eight", "nueve": "nine", "diez": "ten",
    "once": "eleven", "doce": "twelve", "trece": "thirteen", "catorce": "fourteen",
    "quince": "fifteen", "dieciseis": "sixteen", "diecisiete": "seventeen",
    "dieciocho": "eighteen", "diecinueve": "nineteen", "veinte": "twenty",
}  # fmt: skip

FUNCTION_REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
TEMPLATE_SUFFIXES = (".yaml", ".yml")


# Built-ins draw this many lines per numpy call (fast); the count is fixed so the lines for a
# seed never depend on num_chars: a longer stream extends a shorter one.
CHUNK_LINES = 1024


@dataclass(frozen=True)
class Stream:
    """A named line generator: `make_lines(rng, count)` returns `count` lines without their
    newlines; generate_lines asks for `chunk_lines` lines at a time."""

    name: str
    separator: str
    make_lines: Callable[[np.random.Generator, int], list[str]]
    chunk_lines: int = 1


def _option_error(stream: str, message: str) -> UserError:
    return UserError(f"stream_options: {message} (stream {stream!r})")


def _require_int(stream: str, name: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _option_error(stream, f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _option_error(stream, f"{name} must be >= {minimum}, got {value}")
    return value


def count_by_twos(start_low: int = 0, start_high: int = 100, step: int = 2, count: int = 4):
    """`43 45 47 49`: a start in [start_low, start_high), then count-1 more numbers by step."""
    _require_int("count_by_twos", "start_low", start_low)
    _require_int("count_by_twos", "start_high", start_high, minimum=start_low + 1)
    _require_int("count_by_twos", "step", step)
    _require_int("count_by_twos", "count", count, minimum=2)

    def pairs(rng: np.random.Generator, size: int) -> list[tuple[str, str]]:
        starts = rng.integers(start_low, start_high, size=size).tolist()
        return [
            (str(start), " ".join(str(start + step * i) for i in range(1, count)))
            for start in starts
        ]

    return pairs


def translate(vocabulary: Mapping[str, str] | None = None):
    """`siete seven`: a word drawn uniformly from the vocabulary, then its translation."""
    vocabulary = SPANISH_TO_ENGLISH if vocabulary is None else vocabulary
    if not isinstance(vocabulary, Mapping) or not vocabulary:
        raise _option_error("translate", "vocabulary must be a non-empty mapping word: translation")
    for source, target in vocabulary.items():
        if not (isinstance(source, str) and isinstance(target, str) and source and target):
            raise _option_error("translate", f"vocabulary entry {source!r}: {target!r} is not text")
    sources = list(vocabulary)

    def pairs(rng: np.random.Generator, size: int) -> list[tuple[str, str]]:
        chosen = (sources[i] for i in rng.integers(len(sources), size=size).tolist())
        return [(source, vocabulary[source]) for source in chosen]

    return pairs


def insert_spaces(alphabet: str = "abcde", min_len: int = 1, max_len: int = 3):
    """`cebe: c e b e`: a random word over the alphabet, then its letters spaced out."""
    if not isinstance(alphabet, str) or not alphabet:
        raise _option_error("insert_spaces", f"alphabet must be non-empty text, got {alphabet!r}")
    _require_int("insert_spaces", "min_len", min_len, minimum=1)
    _require_int("insert_spaces", "max_len", max_len, minimum=min_len)

    def pairs(rng: np.random.Generator, size: int) -> list[tuple[str, str]]:
        lengths = rng.integers(min_len, max_len + 1, size=size)
        letters = rng.integers(len(alphabet), size=int(lengths.sum())).tolist()
        ends = np.cumsum(lengths).tolist()
        words = [
            "".join(alphabet[i] for i in letters[end - n : end])
            for n, end in zip(lengths.tolist(), ends, strict=True)
        ]
        return [(word, " ".join(word)) for word in words]

    return pairs


# name -> (factory taking the stream's options -> pairs(rng, size), default separator)
BUILTIN_STREAMS = {
    "count_by_twos": (count_by_twos, " "),
    "translate": (translate, " "),
    "insert_spaces": (insert_spaces, ": "),
}


def unknown_stream_error(name) -> UserError:
    return UserError(
        f"stream: unknown stream {name!r}; use a built-in ({', '.join(BUILTIN_STREAMS)}), "
        "a `package.module:function` reference, or the path of a YAML template ending in .yaml"
    )


def stream_kind(name) -> str:
    """'builtin', 'function' or 'template'; anything else is a UserError naming `stream`."""
    if isinstance(name, str) and name in BUILTIN_STREAMS:
        return "builtin"
    if isinstance(name, str) and FUNCTION_REFERENCE.match(name):
        return "function"
    if isinstance(name, str) and name.lower().endswith(TEMPLATE_SUFFIXES):
        return "template"
    raise unknown_stream_error(name)


def check_separator(separator) -> str:
    if not isinstance(separator, str) or not separator or separator.splitlines() != [separator]:
        raise UserError(f"separator: expected non-empty text on one line, got {separator!r}")
    return separator


def bind_options(function: Callable, options: Mapping, stream: str, skip: int) -> None:
    """Fail with the accepted option names rather than a TypeError deep in generation."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some C functions have no signature to check against
        return
    parameters = list(signature.parameters.values())[skip:]
    try:
        signature.bind(*([None] * skip), **options)
    except TypeError:
        accepted = ", ".join(p.name for p in parameters) or "none"
        given = ", ".join(options) or "none"
        raise _option_error(stream, f"got {given}; this stream accepts {accepted}") from None


def _builtin_stream(name: str, options: Mapping, separator: str | None) -> Stream:
    factory, default_separator = BUILTIN_STREAMS[name]
    bind_options(factory, options, name, skip=0)
    pairs = factory(**options)
    separator = default_separator if separator is None else separator

    def make_lines(rng: np.random.Generator, count: int) -> list[str]:
        lines = []
        for prompt, answer in pairs(rng, count):
            line = prompt + separator + answer
            if line.find(separator) != len(prompt):  # the first separator must split the line
                raise UserError(
                    f"separator: {separator!r} occurs inside the prompt {prompt!r} of stream "
                    f"{name!r}; choose a separator that its prompts do not contain"
                )
            lines.append(line)
        return lines

    return Stream(name, separator, make_lines, chunk_lines=CHUNK_LINES)


def make_stream(name: str, options: Mapping | None = None, separator: str | None = None) -> Stream:
    """Resolve a stream: a built-in name, `package.module:function`, or a YAML template path.
    `separator` (None: the stream's own) is the text that ends every prompt."""
    options = {} if options is None else options
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise UserError(f"stream_options: expected a mapping of option names, got {options!r}")
    if separator is not None:
        check_separator(separator)
    kind = stream_kind(name)
    if kind == "builtin":
        return _builtin_stream(name, options, separator)
    if kind == "function":
        from latent_lab.tasks.char_stream.function_streams import function_stream

        return function_stream(name, options, separator)
    from latent_lab.tasks.char_stream.templates import template_stream

    if options:
        raise UserError(
            f"stream_options: template {name!r} takes no options; edit its fields instead"
        )
    return template_stream(name, separator)


def check_line(line, stream: Stream) -> str:
    """A user line must be text on one line that contains the separator and an answer."""
    where = f"stream {stream.name!r}"
    if not isinstance(line, str):
        raise UserError(f"{where}: a line must be a str, got {type(line).__name__}")
    if line.splitlines() != [line]:
        raise UserError(
            f"{where}: line {line!r} must be one line of text; the newline is added for you"
        )
    position = line.find(stream.separator)
    if position < 0:
        raise UserError(
            f"{where}: line {line!r} lacks the separator {stream.separator!r}; set "
            "`separator` to the text that ends each prompt"
        )
    if position + len(stream.separator) == len(line):
        raise UserError(f"{where}: line {line!r} has an empty answer after {stream.separator!r}")
    return line


def generate_lines(stream: Stream, num_chars: int, seed: int) -> list[str]:
    """Lines (each ending in a newline) until their total length reaches num_chars."""
    rng = np.random.default_rng(seed)
    lines: list[str] = []
    total = 0
    while total < num_chars:
        for line in stream.make_lines(rng, stream.chunk_lines):
            lines.append(check_line(line, stream) + "\n")
            total += len(lines[-1])
            if total >= num_chars:
                break
    return lines


def split_line(line: str, separator: str) -> tuple[str, str]:
    """(prompt, answer): the prompt runs through the first separator; the newline is dropped."""
    line = line[:-1] if line.endswith("\n") else line
    end = line.index(separator) + len(separator)
    return line[:end], line[end:]


def split_train_validation(lines: list[str], train_fraction: float):
    """The first int(n * train_fraction) lines train, the rest validate (at least one each)."""
    if len(lines) < 2:
        raise UserError(
            f"num_chars: only {len(lines)} line(s) generated; raise num_chars so that "
            "train and validation each get a line"
        )
    num_train = min(max(int(len(lines) * train_fraction), 1), len(lines) - 1)
    return lines[:num_train], lines[num_train:]


def stream_source_fingerprint(name: str) -> str | None:
    """A hash of a user stream's source file, so an edited template or module is not served
    from a stale cache; None for built-ins or when the source cannot be found."""
    try:
        kind = stream_kind(name)
    except UserError:
        return None
    path = None
    if kind == "template":
        path = name
    elif kind == "function":
        try:
            spec = importlib.util.find_spec(name.split(":")[0])
        except (ImportError, ValueError):
            return None
        path = spec.origin if spec is not None else None
    try:
        with open(path, "rb") as source:
            return hashlib.sha256(source.read()).hexdigest()[:16]
    except (OSError, TypeError):
        return None
