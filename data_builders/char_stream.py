"""Character streams as a `datasets` builder: config (latent_lab.tasks.char_stream.config) ->
stream (latent_lab.tasks.char_stream.streams) -> rows (docs/spec/char_streams.md).

    CharStreamBuilder(config_name="insert_spaces", num_chars=5000).download_and_prepare()

Rows: text (`prompt + answer + "\\n"`), prompt (ends with the separator), answer, and
input_ids (indices of the characters in the sorted vocabulary of all generated text, which
are nanoGPT's stoi ids and those of latent_lab.tasks.char_stream.tokenizer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import datasets

from latent_lab.tasks.char_stream.config import CharStreamDataConfig
from latent_lab.tasks.char_stream.streams import (
    generate_lines,
    make_stream,
    split_line,
    split_train_validation,
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


@dataclass
class CharStreamConfig(datasets.BuilderConfig, CharStreamDataConfig):
    """A named builder config holding the char-stream data fields
    (latent_lab/tasks/char_stream/config.py)."""

    def __post_init__(self):
        datasets.BuilderConfig.__post_init__(self)
        self.validate()

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
        lines = generate_lines(stream, config.num_chars, config.data_seed)
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
