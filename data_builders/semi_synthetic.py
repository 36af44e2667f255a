"""The semi-synthetic two-hop task as a `datasets` builder: config
(latent_lab.tasks.semi_synthetic.config) -> latent_lab.tasks.semi_synthetic.facts -> rows.

    SemiSyntheticBuilder(config_name="parks").download_and_prepare()
    SemiSyntheticBuilder(config_name="parks", table_file="my_parks.json", data_seed=3)

One config per e2 type (named by the type). Splits: first_hop, and per attribute
2hop_<attr>_nocot, 2hop_<attr>_cot, 2hop_<attr>_nocot_shuffled. Rows: messages (system, user,
assistant), question, answer, answer_intermediate (the e2 entity), e2_type, attribute (null on
first_hop).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import datasets

from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.config import DEFAULT_TYPE, SemiSyntheticDataConfig

DESCRIPTION = (
    "Semi-synthetic two-hop latent reasoning. Invented people are paired with real, well-known "
    "entities (e2) of one type; `first_hop` teaches the pairing (\"What is X's favorite "
    'national park?"), and the `2hop_<attr>_*` splits ask for a real attribute of that entity '
    '("Consider X\'s favorite national park. In which U.S. state is it located?"), answered '
    "immediately (nocot) or after naming the entity (cot; the assistant text is a reference). "
    "`2hop_<attr>_nocot_shuffled` permutes the answers across people with consecutive seeds: its "
    "loss is that of a model that knows the answer distribution but not the link."
)
# Bump when the rows change for the same config (the cache is keyed by config, not by code).
VERSION = datasets.Version("1.0.0")
FEATURES = datasets.Features(
    {
        "messages": datasets.List(
            {"role": datasets.Value("string"), "content": datasets.Value("string")}
        ),
        "question": datasets.Value("string"),
        "answer": datasets.Value("string"),
        "answer_intermediate": datasets.Value("string"),
        "e2_type": datasets.Value("string"),
        "attribute": datasets.Value("string"),
    }
)


@dataclass
class SemiSyntheticConfig(datasets.BuilderConfig, SemiSyntheticDataConfig):
    """A named builder config holding the semi-synthetic data fields
    (latent_lab/tasks/semi_synthetic/config.py)."""

    def __post_init__(self):
        datasets.BuilderConfig.__post_init__(self)
        self.validate()

    def create_config_id(self, config_kwargs: dict, custom_features=None) -> str:
        # Key the cache by a user table's content, not its path: an edited file rebuilds. Reading
        # it here also checks it (schema, type) when the builder is made, before any data.
        if config_kwargs.get("table_file") is not None:
            self.validate()  # datasets set the overrides with setattr, unchecked
            self.table()
            digest = hashlib.sha256(Path(self.table_file).expanduser().read_bytes()).hexdigest()
            config_kwargs = {**config_kwargs, "table_file": digest[:16]}
        return super().create_config_id(config_kwargs, custom_features)


class SemiSyntheticBuilder(datasets.GeneratorBasedBuilder):
    """One config per e2 type; every field can be overridden (type included)."""

    VERSION = VERSION
    BUILDER_CONFIG_CLASS = SemiSyntheticConfig
    BUILDER_CONFIGS = [
        SemiSyntheticConfig(name=name, type=name, version=VERSION, description=f"e2 type {name}")
        for name in facts.TYPES
    ]
    DEFAULT_CONFIG_NAME = DEFAULT_TYPE

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=FEATURES, license="mit")

    def card_description(self) -> str:
        """The dataset card's description (latent-lab build writes README.md with it)."""
        config = self.config
        table = config.table()
        attributes = ", ".join(f"`{name}`" for name in table.attributes)
        seed = config.pairing_seed()
        source = (
            f"a user table ({Path(config.table_file).name})"
            if config.table_file
            else "real-world values written by hand"
        )
        return (
            f"{DESCRIPTION}\n\ne2 type `{config.type}` ({facts.NUM_ENTITIES} {table.kind}s; "
            f"attributes {attributes}). Pairing seed {seed}; {config.num_shuffles} shuffles "
            f"with seeds {facts.shuffle_seeds(seed, config.num_shuffles)}. The entity facts are "
            f"{source}; the people are invented."
        )

    def _split_generators(self, dl_manager):
        config = self.config
        config.validate()  # datasets sets overrides with setattr, skipping __post_init__
        splits = facts.build_splits(
            config.type, config.pairing_seed(), config.num_shuffles, table=config.table()
        )
        # Tuples, not lists: datasets would try to shard lists across jobs.
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"rows": tuple(rows)})
            for name, rows in splits.items()
        ]

    def _generate_examples(self, rows):
        yield from enumerate(rows)
