"""FSM in-context learning as a `datasets` builder: config -> latent_lab.tasks.fsm_icl -> rows.

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
from latent_lab.tasks.fsm_icl.generator import (
    SPLIT_NAMES,
    EpisodeSpec,
    FSMVocab,
    default_walk_length,
    split_episodes,
    split_fsms,
    walk_length_range,
)
from latent_lab.tasks.fsm_icl.reference import MAX_EXACT_STATES, episode_references

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


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{name}: expected an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{name}: must be >= {minimum}, got {value}")


@dataclass
class FSMConfig(datasets.BuilderConfig):
    """Walk lengths are steps (actions); None means A ln A. Each walk's length is uniform over
    the integers within length_jitter (a fraction) of it."""

    num_states: int = 5
    num_actions: int = 5
    absorbing: bool = False
    num_demos: int = 3
    demo_length: int | None = None
    query_length: int | None = None
    length_jitter: float = 0.2
    score_demonstrations: bool = False
    num_train: int = 6000
    num_validation: int = 2000
    num_test: int = 2000
    seed: int = 0
    s_max: int = 8
    a_max: int = 10

    def __post_init__(self):
        super().__post_init__()
        self.validate()

    def validate(self) -> None:
        for name in ("s_max", "a_max", "num_train", "num_validation", "num_test"):
            _check_int(name, getattr(self, name), 1)
        _check_int("seed", self.seed, 0)
        _check_int("num_states", self.num_states, 1)
        _check_int("num_actions", self.num_actions, 1)
        if self.num_states > self.s_max:
            raise UserError(
                f"num_states: {self.num_states} is more than s_max = {self.s_max}; lower "
                "num_states or raise s_max (which changes the vocabulary)"
            )
        if self.num_actions > self.a_max:
            raise UserError(
                f"num_actions: {self.num_actions} is more than a_max = {self.a_max}; lower "
                "num_actions or raise a_max (which changes the vocabulary)"
            )
        if self.num_states > MAX_EXACT_STATES:
            raise UserError(
                f"num_states: exact Bayes references are computed for up to {MAX_EXACT_STATES} "
                f"states, got {self.num_states}"
            )
        self._validate_episode()

    def _validate_episode(self) -> None:
        for name in ("absorbing", "score_demonstrations"):
            if not isinstance(getattr(self, name), bool):
                raise UserError(f"{name}: expected true or false, got {getattr(self, name)!r}")
        if self.absorbing and self.num_states < 2:
            raise UserError("absorbing: an absorbing state other than 0 needs num_states >= 2")
        _check_int("num_demos", self.num_demos, 1)
        if self.num_demos > self.num_states:
            raise UserError(
                f"num_demos: {self.num_demos} demonstrations need distinct start states but "
                f"there are only {self.num_states} states; lower num_demos"
            )
        for name in ("demo_length", "query_length"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
        jitter = self.length_jitter
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter < 1:
            raise UserError(f"length_jitter: expected a fraction in [0, 1), got {jitter!r}")

    @property
    def vocab(self) -> FSMVocab:
        return FSMVocab(self.s_max, self.a_max)

    def episode_spec(self) -> EpisodeSpec:
        default = default_walk_length(self.num_actions)
        demo = self.demo_length if self.demo_length is not None else default
        query = self.query_length if self.query_length is not None else default
        return EpisodeSpec(
            num_demos=self.num_demos,
            demo_lengths=walk_length_range(demo, self.length_jitter),
            query_lengths=walk_length_range(query, self.length_jitter),
            score_demonstrations=self.score_demonstrations,
        )


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
            f"<pad> {vocab.pad}. Seed {config.seed}."
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
                fsms = split_fsms(split, counts, config.seed, *shape)
            except ValueError as error:
                raise UserError(f"num_train: {error}") from None
            # A tuple, not a list: datasets would try to shard lists across jobs.
            generators.append(datasets.SplitGenerator(name, {"split": split, "fsms": tuple(fsms)}))
        return generators

    def _generate_examples(self, split, fsms):
        config = self.config
        shape = (config.num_states, config.num_actions, config.absorbing)
        episodes = split_episodes(split, fsms, config.seed, config.episode_spec(), config.vocab)
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
