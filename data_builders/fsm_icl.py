"""FSM in-context learning as a `datasets` builder: config (latent_lab.tasks.fsm_icl.config) ->
generator and exact reference (latent_lab.tasks.fsm_icl) -> rows.

    FSMBuilder(config_name="5s5a", num_train=100).download_and_prepare()

Rows (unpadded, lengths differ; pad in the collator, latent_lab.tasks.fsm_icl.metrics.FSMCollator):
input_ids, labels (-100 where not scored), transitions (S lists of A next states), num_states,
num_actions, absorbing_state (-1: none), s_max and a_max (the vocabulary), and the exact
per-position references, label-aligned and zero where not scored: seen_mask,
bayes_correct_prob (the Bayes-optimal predictor's probability of being right) and
bayes_true_prob (its probability of the true next state).
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets

from latent_lab.errors import UserError
from latent_lab.tasks.fsm_icl.config import FSMDataConfig
from latent_lab.tasks.fsm_icl.generator import SPLIT_NAMES, split_episodes, split_fsms
from latent_lab.tasks.fsm_icl.reference import episode_references

DESCRIPTION = (
    "In-context learning of random deterministic finite state machines. Each row is one FSM "
    "(a random spanning tree from state 0, so every state is reachable, then uniform next "
    "states for the other (state, action) slots): k demonstration walks `s a s a ... s <eos>` "
    "from distinct start states, then a query walk `<query> s0 a0 s1 ... s_n <eos>` whose next "
    "states are scored. A step is *seen* if its (state, action) occurred earlier in the "
    "sequence. bayes_correct_prob is the exact Bayes-optimal accuracy at each scored position: "
    "the posterior over an unseen next state is computed exactly under the generator (not "
    "1/S: the spanning tree makes it non-uniform). Train FSMs differ from validation and test "
    "FSMs (by transition table); validation and test are i.i.d. from the generator, so their "
    "references are exact. Train redraws held-out tables, so its FSMs follow the generator "
    "conditioned on not being held out, while its references still assume the plain "
    "generator: approximate on train when held-out tables carry much prior mass (3s3a: about "
    "28%), exact on validation and test."
)
# Bump when generated rows change for the same config (the cache is keyed by config).
VERSION = datasets.Version("1.0.0")
FEATURES = datasets.Features(
    {
        "input_ids": datasets.List(datasets.Value("int64")),
        "labels": datasets.List(datasets.Value("int64")),
        "transitions": datasets.List(datasets.List(datasets.Value("int32"))),
        "num_states": datasets.Value("int32"),
        "num_actions": datasets.Value("int32"),
        "absorbing_state": datasets.Value("int32"),
        "s_max": datasets.Value("int32"),
        "a_max": datasets.Value("int32"),
        "seen_mask": datasets.List(datasets.Value("int8")),
        "bayes_correct_prob": datasets.List(datasets.Value("float64")),
        "bayes_true_prob": datasets.List(datasets.Value("float64")),
    }
)


@dataclass
class FSMConfig(datasets.BuilderConfig, FSMDataConfig):
    """A named builder config holding the FSM data fields (latent_lab/tasks/fsm_icl/config.py)."""

    def __post_init__(self):
        datasets.BuilderConfig.__post_init__(self)
        self.validate()


def _config(name: str, states: int, actions: int, absorbing: bool = False) -> FSMConfig:
    return FSMConfig(
        name=name,
        version=VERSION,
        num_states=states,
        num_actions=actions,
        absorbing=absorbing,
        description=f"{states} states, {actions} actions"
        + (", one absorbing" if absorbing else ""),
    )


class FSMBuilder(datasets.GeneratorBasedBuilder):
    """The seed's datasets: 5s5a (standard), 3s3a (easy), 5s8a, 8s8a, absorbing_5s5a."""

    VERSION = VERSION
    BUILDER_CONFIG_CLASS = FSMConfig
    BUILDER_CONFIGS = [
        _config("5s5a", 5, 5),
        _config("3s3a", 3, 3),
        _config("5s8a", 5, 8),
        _config("8s8a", 8, 8),
        _config("absorbing_5s5a", 5, 5, absorbing=True),
    ]
    DEFAULT_CONFIG_NAME = "5s5a"

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=FEATURES, license="mit")

    def card_description(self) -> str:
        """The dataset card's description (latent-lab build writes README.md with it)."""
        config = self.config
        spec = config.episode_spec()
        vocab = config.vocab
        return (
            f"{DESCRIPTION}\n\nThis config: {config.num_states} states, {config.num_actions} "
            f"actions{', one absorbing state' if config.absorbing else ''}; "
            f"{spec.num_demos} demonstrations of {spec.demo_lengths[0]}-{spec.demo_lengths[1]} "
            f"steps, query of {spec.query_lengths[0]}-{spec.query_lengths[1]} steps; scored: "
            f"{'demonstration and query' if spec.score_demonstrations else 'query'} next states. "
            f"Vocabulary ({vocab.size} tokens): states 0..{vocab.s_max - 1}, actions "
            f"{vocab.s_max}..{vocab.eos - 1}, <eos> {vocab.eos}, <query> {vocab.query}, "
            f"<pad> {vocab.pad}. data_seed {config.data_seed}."
        )

    def _split_generators(self, dl_manager):
        config = self.config
        config.validate()  # datasets sets overrides with setattr, skipping __post_init__
        counts = {name: getattr(config, f"num_{name}") for name in SPLIT_NAMES}
        shape = (config.num_states, config.num_actions, config.absorbing)
        names = (datasets.Split.TRAIN, datasets.Split.VALIDATION, datasets.Split.TEST)
        generators = []
        for name, split in zip(names, SPLIT_NAMES, strict=True):
            # Drawn here, not while generating, so a user error is not wrapped by datasets.
            try:
                fsms = split_fsms(split, counts, config.data_seed, *shape)
            except ValueError as error:
                raise UserError(f"num_train: {error}") from None
            # A tuple, not a list: datasets would try to shard lists across jobs.
            generators.append(datasets.SplitGenerator(name, {"split": split, "fsms": tuple(fsms)}))
        return generators

    def _generate_examples(self, split, fsms):
        config = self.config
        shape = (config.num_states, config.num_actions, config.absorbing)
        episodes = split_episodes(
            split, fsms, config.data_seed, config.episode_spec(), config.vocab
        )
        references = episode_references(episodes, *shape, config.vocab)
        for index, (fsm, (input_ids, labels), reference) in enumerate(
            zip(fsms, episodes, references, strict=True)
        ):
            yield (
                index,
                {
                    "input_ids": input_ids,
                    "labels": labels,
                    "transitions": fsm.transitions.tolist(),
                    "num_states": config.num_states,
                    "num_actions": config.num_actions,
                    "absorbing_state": fsm.absorbing_state,
                    "s_max": config.s_max,
                    "a_max": config.a_max,
                    "seen_mask": reference.seen.astype(int).tolist(),
                    "bayes_correct_prob": reference.correct_prob.tolist(),
                    "bayes_true_prob": reference.true_prob.tolist(),
                },
            )


__all__ = ["FSMBuilder", "FSMConfig"]
