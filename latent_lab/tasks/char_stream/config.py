"""The char-stream data fields: what a builder config holds and a recipe may set (one definition
for both: data_builders/char_stream.py and arguments.py derive from it), checked without I/O.
Streams and their lines: docs/spec/char_streams.md."""

from __future__ import annotations

from dataclasses import dataclass, field

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.streams import check_separator, make_stream, stream_kind
from latent_lab.tasks.sizes import check_at_most

# Lines are generated at about 500,000 characters a second and held in memory while the
# splits are written, so MAX_CHARS takes a few minutes and a few GB.
MAX_CHARS = 100_000_000


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _field(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass
class CharStreamDataConfig:
    """stream: a built-in name, `package.module:function`, or a YAML template path;
    separator: None for the stream's own; num_chars: total characters of all lines;
    data_seed fixes the lines (the recipe's `seed` fixes model initialisation and batches)."""

    stream: str = _field("insert_spaces", "built-in stream name, package.module:function, or "
                         "the path of a YAML template")  # fmt: skip
    stream_options: dict = field(
        default_factory=dict,
        metadata={"help": "the stream's options, a mapping such as {min_len: 1, max_len: 5}"},
    )
    separator: str | None = _field(None, "text that ends every prompt (a function stream "
                                   "needs it; default: the stream's own)")  # fmt: skip
    num_chars: int = _field(1_200_000, "characters of data to generate, all lines together")
    train_fraction: float = _field(0.9, "share of the lines that train (the rest validate)")
    data_seed: int = _field(0, "fixes the generated lines")

    def validate(self) -> None:
        """Checks without I/O; user streams (module, template) are opened when generating."""
        if self.stream_options is None:  # an empty `stream_options:` in YAML
            self.stream_options = {}
        if not isinstance(self.stream_options, dict):
            raise UserError(
                f"stream_options: expected a mapping such as {{min_len: 1, max_len: 5}}, "
                f"got {self.stream_options!r}"
            )
        if self.separator is not None:
            check_separator(self.separator)
        for name in ("num_chars", "data_seed"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # YAML reads 1.2e+6 as a float
                setattr(self, name, value)
            minimum = 0 if name == "data_seed" else 1
            if not _is_int(value) or value < minimum:
                raise UserError(f"{name}: expected an integer >= {minimum}, got {value!r}")
        check_at_most("num_chars", self.num_chars, MAX_CHARS, "characters")
        fraction = self.train_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise UserError(f"train_fraction: expected a number in (0, 1), got {fraction!r}")
        if not 0 < fraction < 1:
            raise UserError(f"train_fraction: must be strictly between 0 and 1, got {fraction}")
        if stream_kind(self.stream) == "builtin":  # cheap and pure: check options now
            make_stream(self.stream, self.stream_options, self.separator)
