"""Character streams as a `datasets` builder: config -> latent_lab.tasks.char_stream -> rows.

    CharStreamBuilder(config_name="insert_spaces", num_chars=5000).download_and_prepare()

Rows: text (`prompt + answer + "\\n"`), prompt (ends with the separator), answer, and
input_ids (indices of the characters in the sorted vocabulary of all generated text, which
are nanoGPT's stoi ids and those of latent_lab.tasks.char_stream.tokenizer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import datasets

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.streams import (
    check_separator,
    generate_lines,
    make_stream,
    split_line,
    split_train_validation,
    stream_kind,
    stream_source_fingerprint,
)

DESCRIPTION = (
    "Synthetic character streams for character-level language models: each line is "
    "`prompt + answer`, the prompt ending with a separator, so a model given a prompt can be "
    "scored on its answer by exact match. Lines are generated with a seeded numpy Generator "
    "and split by lines into train and validation."
)
CONFIG_DESCRIPTIONS = {
    "insert_spaces": "Insert spaces between the letters of a word: `cebe: c e b e`.",
    "count_by_twos": "Count by twos from a start below 100: `43 45 47 49`.",
    "translate": "Translate Spanish number words to English: `siete seven`.",
}
# Bump when generated lines change for the same config (the cache is keyed by config).
VERSION = datasets.Version("1.0.0")
FEATURES = datasets.Features(
    {
        "text": datasets.Value("string"),
        "prompt": datasets.Value("string"),
        "answer": datasets.Value("string"),
        "input_ids": datasets.List(datasets.Value("int64")),
    }
)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class CharStreamConfig(datasets.BuilderConfig):
    """stream: a built-in name, `package.module:function`, or a YAML template path;
    separator: None for the stream's own; num_chars: total characters of all lines."""

    stream: str = "insert_spaces"
    stream_options: dict = field(default_factory=dict)
    separator: str | None = None
    num_chars: int = 1_200_000
    train_fraction: float = 0.9
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        self.validate()

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
        if isinstance(self.num_chars, float) and self.num_chars.is_integer():
            self.num_chars = int(self.num_chars)  # YAML reads 1.2e+6 as a float
        if not _is_int(self.num_chars) or self.num_chars < 1:
            raise UserError(f"num_chars: expected a positive integer, got {self.num_chars!r}")
        fraction = self.train_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)):
            raise UserError(f"train_fraction: expected a number in (0, 1), got {fraction!r}")
        if not 0 < fraction < 1:
            raise UserError(f"train_fraction: must be strictly between 0 and 1, got {fraction}")
        if not _is_int(self.seed) or self.seed < 0:
            raise UserError(f"seed: expected a non-negative integer, got {self.seed!r}")
        if stream_kind(self.stream) == "builtin":  # cheap and pure: check options now
            make_stream(self.stream, self.stream_options, self.separator)

    def create_config_id(self, config_kwargs: dict, custom_features=None) -> str:
        # The cache is keyed by config: add the user stream's source so an edit rebuilds.
        fingerprint = stream_source_fingerprint(self.stream)
        if fingerprint is not None:
            config_kwargs = {**config_kwargs, "stream_source": fingerprint}
        return super().create_config_id(config_kwargs, custom_features)


class CharStreamBuilder(datasets.GeneratorBasedBuilder):
    """One config per built-in stream; any field can be overridden (stream included)."""

    VERSION = VERSION
    BUILDER_CONFIG_CLASS = CharStreamConfig
    BUILDER_CONFIGS = [
        CharStreamConfig(name=name, stream=name, version=VERSION, description=text)
        for name, text in CONFIG_DESCRIPTIONS.items()
    ]
    DEFAULT_CONFIG_NAME = "insert_spaces"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=FEATURES, license="mit")

    def card_description(self) -> str:
        """The dataset card's description (latent-lab build writes README.md with it)."""
        config = self.config
        stream = CONFIG_DESCRIPTIONS.get(
            config.stream, f"The user-defined stream `{config.stream}`."
        )
        return f"{DESCRIPTION}\n\n{stream}"

    def write_extras(self, dataset_dict, folder) -> None:
        """Save the character tokenizer beside the data, for training and sampling."""
        from latent_lab.tasks.char_stream.tokenizer import tokenizer_from_dataset

        tokenizer_from_dataset(dataset_dict).save_pretrained(Path(folder) / "tokenizer")

    def _split_generators(self, dl_manager):
        config = self.config
        config.validate()  # datasets sets overrides with setattr, skipping __post_init__
        stream = make_stream(config.stream, config.stream_options, config.separator)
        lines = generate_lines(stream, config.num_chars, config.seed)
        vocabulary = sorted(set("".join(lines)))
        stoi = {character: index for index, character in enumerate(vocabulary)}
        train, validation = split_train_validation(lines, config.train_fraction)
        # Tuples, not lists: datasets would try to shard lists across jobs.
        shared = {"separator": stream.separator, "stoi": stoi}
        return [
            datasets.SplitGenerator(datasets.Split.TRAIN, {"lines": tuple(train), **shared}),
            datasets.SplitGenerator(
                datasets.Split.VALIDATION, {"lines": tuple(validation), **shared}
            ),
        ]

    def _generate_examples(self, lines, separator, stoi):
        for index, line in enumerate(lines):
            prompt, answer = split_line(line, separator)
            input_ids = [stoi[character] for character in line]
            yield index, {"text": line, "prompt": prompt, "answer": answer, "input_ids": input_ids}
