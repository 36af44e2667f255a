"""The exact distribution over lines of a character stream: every distinct line its generator
can write, with its probability (docs/spec/distance_to_optimum.md, "Exact references per
character for char streams"). reference.py turns it into the per-character optimum.

    line_distribution("insert_spaces", {"max_len": 5})   # 5 + 25 + ... + 3125 lines

- Built-ins mirror their generators in streams.py: count_by_twos draws a start uniformly,
  translate a vocabulary entry uniformly, insert_spaces a word length uniformly and then each
  letter uniformly.
- YAML templates draw every field independently (templates.py): a word like insert_spaces, a
  range or a list of choices uniformly; a line is the template rendered with one draw of each.
- A `module:function` stream has a distribution only if it declares one: give the function a
  `line_distribution` attribute, a callable taking the stream's options and returning
  (line, probability) pairs, each line as the function returns it (no newline), probabilities
  summing to 1:

      def mirror(rng, n=3):
          word = "".join(rng.choice(list("ab"), size=n))
          return f"{word}={word[::-1]}"
      mirror.line_distribution = lambda n=3: [
          ("".join(w) + "=" + "".join(w)[::-1], 2.0**-n) for w in itertools.product("ab", repeat=n)
      ]

Beyond MAX_LINES possible lines, or for a function without the hook, there is no reference:
NoReference, a UserError (exit 2 where a run needs the reference) whose one line says why.
Identical lines from different draws are merged by the trie, which sums their probabilities.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.streams import (
    BUILTIN_STREAMS,
    SPANISH_TO_ENGLISH,
    make_stream,
    stream_kind,
)

# Enumerating a million lines and sorting them takes seconds; beyond that the exact reference
# would cost more than the run it scores.
MAX_LINES = 1_000_000


class NoReference(UserError):
    """The stream's lines cannot be enumerated; the message says why, on one line."""


@dataclass(frozen=True)
class LineDistribution:
    """Lines (no newline; a line may repeat, its probabilities then add up) and probabilities."""

    stream: str
    lines: list[str]
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)


def _too_many(stream: str, options: Mapping, count: int, max_lines: int) -> NoReference:
    shown = f" with options {dict(options)}" if options else ""
    return NoReference(
        f"stream {stream!r}{shown} can write {count:,} lines, more than the {max_lines:,} "
        "an exact reference enumerates; it has no exact per-character reference"
    )


def word_support(alphabet: str, min_len: int, max_len: int) -> Iterable[tuple[str, float]]:
    """Words as streams draw them: a length uniform in [min_len, max_len], then each letter
    uniform over the alphabet (a repeated letter is drawn as often as it appears)."""
    lengths = max_len - min_len + 1
    for length in range(min_len, max_len + 1):
        probability = 1.0 / (lengths * len(alphabet) ** length)
        for letters in itertools.product(alphabet, repeat=length):
            yield "".join(letters), probability


def word_count(alphabet: str, min_len: int, max_len: int) -> int:
    return sum(len(alphabet) ** length for length in range(min_len, max_len + 1))


def _builtin_options(name: str, options: Mapping) -> dict:
    """The factory's options with its defaults filled in (streams.py's signatures)."""
    factory = BUILTIN_STREAMS[name][0]
    bound = inspect.signature(factory).bind(**options)
    bound.apply_defaults()
    return dict(bound.arguments)


def _builtin_lines(name: str, options: dict, separator: str):
    """(count, iterable of (line, probability)) mirroring the built-in generators."""
    if name == "count_by_twos":
        low, high, step, count = (options[k] for k in ("start_low", "start_high", "step", "count"))

        def numbers(start: int) -> str:
            return " ".join(str(start + step * i) for i in range(1, count))

        pairs = ((f"{s}{separator}{numbers(s)}", 1.0 / (high - low)) for s in range(low, high))
        return high - low, pairs
    if name == "translate":
        vocabulary = options["vocabulary"] or SPANISH_TO_ENGLISH
        pairs = ((f"{s}{separator}{t}", 1.0 / len(vocabulary)) for s, t in vocabulary.items())
        return len(vocabulary), pairs
    alphabet, low, high = options["alphabet"], options["min_len"], options["max_len"]
    words = word_support(alphabet, low, high)
    pairs = ((f"{w}{separator}{' '.join(w)}", p) for w, p in words)
    return word_count(alphabet, low, high), pairs


def _field_support(spec: Mapping) -> list[tuple[object, float]]:
    """Every value a template field draws, with its probability (templates.py's samplers)."""
    from latent_lab.tasks.char_stream.templates import WORD_DEFAULTS

    kind, options = next(iter(spec.items()))
    if kind == "word":
        word = {**WORD_DEFAULTS, **(options or {})}
        return list(word_support(word["alphabet"], word["min_len"], word["max_len"]))
    if kind == "range":
        low, high = options
        return [(value, 1.0 / (high - low)) for value in range(low, high)]
    integers = all(isinstance(item, int) for item in options)
    values = list(options) if integers else [str(item) for item in options]
    return [(value, 1.0 / len(values)) for value in values]


def _field_count(spec: Mapping) -> int:
    from latent_lab.tasks.char_stream.templates import WORD_DEFAULTS

    kind, options = next(iter(spec.items()))
    if kind == "word":
        word = {**WORD_DEFAULTS, **(options or {})}
        return word_count(word["alphabet"], word["min_len"], word["max_len"])
    return options[1] - options[0] if kind == "range" else len(options)


def _template_lines(path: str, separator: str | None, max_lines: int):
    from latent_lab.tasks.char_stream.templates import load_template

    template, fields = load_template(path, separator)
    count = math.prod(_field_count(spec) for spec in fields.values())
    if count > max_lines:
        return count, ()
    names = list(fields)
    supports = [_field_support(fields[name]) for name in names]

    def pairs():
        for draw in itertools.product(*supports):
            line, _ = template.render({n: value for n, (value, _) in zip(names, draw, strict=True)})
            yield line, math.prod(probability for _, probability in draw)

    return count, pairs()


def _declared_lines(reference: str, options: Mapping, max_lines: int):
    """The pairs a function stream declares through its `line_distribution` hook."""
    module_name, function_name = reference.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    hook = getattr(function, "line_distribution", None)
    if not callable(hook):
        raise NoReference(
            f"stream {reference!r} is a module:function stream without a line_distribution "
            "hook, so its lines cannot be enumerated and it has no exact per-character "
            "reference (give the function a `line_distribution(**options)` attribute)"
        )
    try:
        pairs = list(itertools.islice(hook(**options), max_lines + 1))
    except Exception as error:  # noqa: BLE001  the user's hook: one line, no traceback
        raise UserError(
            f"stream: {reference}.line_distribution raised {type(error).__name__}: {error}"
        ) from None
    return len(pairs), pairs


def _checked(stream: str, pairs: list) -> LineDistribution:
    """A declared distribution must be text lines with probabilities summing to 1."""
    bad = next((p for p in pairs if not (isinstance(p, tuple | list) and len(p) == 2)), None)
    if bad is not None:
        raise UserError(f"stream {stream!r}: line_distribution must give (line, probability) "
                        f"pairs, got {bad!r}")  # fmt: skip
    lines = [line for line, _ in pairs]
    for line in lines:
        if not isinstance(line, str) or line.splitlines() != [line]:
            raise UserError(f"stream {stream!r}: line_distribution gave {line!r}, not one line")
    probabilities = np.asarray([p for _, p in pairs], dtype=np.float64)
    total = probabilities.sum()
    if not (np.isfinite(probabilities).all() and (probabilities >= 0).all()):
        raise UserError(f"stream {stream!r}: line_distribution gave a negative or NaN probability")
    if abs(total - 1.0) > 1e-6:
        raise UserError(f"stream {stream!r}: line_distribution's probabilities sum to {total:.6g}, "
                        "not 1")  # fmt: skip
    return LineDistribution(stream, lines, probabilities)


def line_distribution(
    stream: str,
    options: Mapping | None = None,
    separator: str | None = None,
    max_lines: int = MAX_LINES,
) -> LineDistribution:
    """Every line of the stream (as make_stream(stream, options, separator) would generate it)
    with its probability; NoReference when it cannot be enumerated (the message says why)."""
    options = {} if options is None else options
    made = make_stream(stream, options, separator)  # checks the stream, options and separator
    kind = stream_kind(stream)
    if kind == "builtin":
        full = _builtin_options(stream, options)
        count, pairs = _builtin_lines(stream, full, made.separator)
    elif kind == "template":
        count, pairs = _template_lines(stream, separator, max_lines)
    else:
        count, pairs = _declared_lines(stream, options, max_lines)
    if count > max_lines:
        raise _too_many(stream, options, count, max_lines)
    if kind == "function":
        return _checked(stream, pairs)
    lines, probabilities = zip(*pairs, strict=True)
    return LineDistribution(stream, list(lines), np.asarray(probabilities, dtype=np.float64))


def config_line_distribution(config, max_lines: int = MAX_LINES) -> LineDistribution:
    """The distribution of a char-stream data config (stream, stream_options, separator)."""
    return line_distribution(config.stream, config.stream_options, config.separator, max_lines)
