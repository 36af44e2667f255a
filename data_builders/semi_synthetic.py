"""The semi-synthetic two-hop task as a `datasets` builder: config -> latent_lab.tasks.two_hop.

    SemiSyntheticBuilder(config_name="parks").download_and_prepare()

One config per e2 type (named by the type). Splits: first_hop, and per attribute
2hop_<attr>_nocot, 2hop_<attr>_cot, 2hop_<attr>_nocot_shuffled. Rows: messages (system, user,
assistant), question, answer, answer_intermediate (the e2 entity), e2_type, attribute (null on
first_hop).
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets

from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic import facts

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


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class SemiSyntheticConfig(datasets.BuilderConfig):
    """type: the e2 type (table); seed: the pairing seed, None for the type's fixed default
    (facts.type_seed); num_shuffles: shuffled-answer permutations (seeds seed+1, seed+2, ...)."""

    type: str = "parks"
    seed: int | None = None
    num_shuffles: int = facts.DEFAULT_NUM_SHUFFLES

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        if self.type not in facts.TYPES:
            raise UserError(
                f"type: unknown e2 type {self.type!r}; choose one of {', '.join(facts.TYPES)}"
            )
        if self.seed is not None and (not _is_int(self.seed) or self.seed < 0):
            raise UserError(f"seed: expected a non-negative integer or null, got {self.seed!r}")
        if not _is_int(self.num_shuffles) or self.num_shuffles < 1:
            raise UserError(f"num_shuffles: expected a positive integer, got {self.num_shuffles!r}")

    @property
    def data_seed(self) -> int:
        return facts.type_seed(self.type) if self.seed is None else self.seed


class SemiSyntheticBuilder(datasets.GeneratorBasedBuilder):
    """One config per e2 type; every field can be overridden (type included)."""

    VERSION = VERSION
    BUILDER_CONFIG_CLASS = SemiSyntheticConfig
    BUILDER_CONFIGS = [
        SemiSyntheticConfig(name=name, type=name, version=VERSION, description=f"e2 type {name}")
        for name in facts.TYPES
    ]
    DEFAULT_CONFIG_NAME = "parks"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=FEATURES, license="mit")

    def card_description(self) -> str:
        """The dataset card's description (latent-lab build writes README.md with it)."""
        config = self.config
        table = facts.load_table(config.type)
        attributes = ", ".join(f"`{name}`" for name in table.attributes)
        return (
            f"{DESCRIPTION}\n\ne2 type `{config.type}` ({facts.NUM_ENTITIES} {table.kind}s; "
            f"attributes {attributes}). Pairing seed {config.data_seed}; "
            f"{config.num_shuffles} shuffles with seeds "
            f"{facts.shuffle_seeds(config.data_seed, config.num_shuffles)}. The entity facts "
            "are real-world values written by hand; the people are invented."
        )

    def _split_generators(self, dl_manager):
        config = self.config
        config.validate()  # datasets sets overrides with setattr, skipping __post_init__
        splits = facts.build_splits(config.type, config.data_seed, config.num_shuffles)
        # Tuples, not lists: datasets would try to shard lists across jobs.
        return [
            datasets.SplitGenerator(name=name, gen_kwargs={"rows": tuple(rows)})
            for name, rows in splits.items()
        ]

    def _generate_examples(self, rows):
        yield from enumerate(rows)
