"""FSM in-context learning: generator, layout, exact Bayes reference, builder and metrics.

The Bayes reference (a dynamic programme over spanning trees) is checked against brute force:
enumerate every random choice of the generator on small (S, A), giving the exact prior over
all S**(S*A) transition tables, and condition on the transitions observed before each position.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats
from transformers import EvalPrediction

from data_builders.fsm_icl import FSMBuilder
from latent_lab.errors import UserError
from latent_lab.tasks.builders import build_dataset, make_builder
from latent_lab.tasks.fsm_icl.generator import (
    FSMVocab,
    reachable_from_zero,
    sample_fsm,
    walk_length_range,
)
from latent_lab.tasks.fsm_icl.metrics import (
    FSMCollator,
    FSMMetrics,
    evaluate_fsm,
    preprocess_logits_for_metrics,
    trainer_metric_hooks,
)
from latent_lab.tasks.fsm_icl.reference import next_state_posteriors, tree_weight_sums

TINY = {"num_train": 4, "num_validation": 3, "num_test": 3}


# ----------------------------------------------------------------------------- brute force
def _attachments(order, attached, tree, num_actions, probability):
    """Every (tree, probability) the spanning-tree step can produce for this attachment order."""
    if not order:
        yield tree, probability
        return
    free = [(p, a) for p in attached for a in range(num_actions) if (p, a) not in tree]
    for slot in free:
        grown = {**tree, slot: order[0]}
        yield from _attachments(
            order[1:], attached + [order[0]], grown, num_actions, probability / len(free)
        )


def generator_prior(num_states, num_actions, absorbing=False) -> np.ndarray:
    """Exact probability of every table (index: slot s*A+a is a base-S digit, slot 0 first)."""
    slots = num_states * num_actions
    place = num_states ** np.arange(slots)[::-1]
    prior = np.zeros(num_states**slots)
    choices = list(range(1, num_states)) if absorbing else [None]
    for b in choices:
        others = [v for v in range(1, num_states) if v != b]
        for order in itertools.permutations(others):
            order = list(order) + ([b] if b is not None else [])
            start = 1 / len(choices) / math.factorial(len(others))
            for tree, probability in _attachments(order, [0], {}, num_actions, start):
                fixed = {s * num_actions + a: v for (s, a), v in tree.items()}
                if b is not None:
                    fixed.update({b * num_actions + a: b for a in range(num_actions)})
                free = [i for i in range(slots) if i not in fixed]
                fills = np.array(list(itertools.product(range(num_states), repeat=len(free))))
                tables = np.zeros((len(fills), slots), dtype=np.int64)
                tables[:, list(fixed)] = list(fixed.values())
                tables[:, free] = fills.reshape(len(fills), len(free))
                np.add.at(prior, tables @ place, probability * num_states ** -len(free))
    return prior


def table_digits(num_states, num_actions) -> np.ndarray:
    slots = num_states * num_actions
    index = np.arange(num_states**slots)
    return (index[:, None] // num_states ** np.arange(slots)[::-1]) % num_states


def brute_force_posterior(prior, digits, num_actions, observed: dict, slot) -> np.ndarray:
    consistent = prior > 0
    for (s, a), next_state in observed.items():
        consistent &= digits[:, s * num_actions + a] == next_state
    values = digits[consistent, slot[0] * num_actions + slot[1]]
    posterior = np.bincount(values, weights=prior[consistent], minlength=digits.max() + 1)
    return posterior / posterior.sum()


def test_brute_force_prior_matches_the_sampler():
    """Ties the enumeration to the real sampler: sampled table frequencies fit the prior."""
    for num_states, num_actions, absorbing in [(3, 2, False), (2, 3, False), (3, 2, True)]:
        prior = generator_prior(num_states, num_actions, absorbing)
        assert prior.sum() == pytest.approx(1.0)
        place = num_states ** np.arange(num_states * num_actions)[::-1]
        rng = np.random.default_rng(1)
        draws = 10_000
        index = [
            sample_fsm(rng, num_states, num_actions, absorbing).transitions.ravel() @ place
            for _ in range(draws)
        ]
        observed = np.bincount(index, minlength=len(prior))
        assert observed[prior == 0].sum() == 0
        support = prior > 0
        result = stats.chisquare(observed[support], prior[support] * draws)
        assert result.pvalue > 1e-3, (num_states, num_actions, absorbing, result)


def test_tree_weights_without_observations_have_closed_form():
    # Sum over trees of P(tree) = 1 <=> the DP's unnormalised sum is prod_k (k(A-1)+1) / S
    # (the absorbing state attaches last and is not counted: / (S-1)).
    for num_states, num_actions, absorbing in [(1, 3, -1), (4, 3, -1), (6, 5, -1), (5, 5, 2)]:
        free = np.full((1, num_states), num_actions)
        weight = tree_weight_sums(
            free, np.zeros((1, num_states, num_states)), np.array([absorbing])
        )
        steps = math.prod(k * (num_actions - 1) + 1 for k in range(1, num_states))
        assert weight[0] == pytest.approx(steps / (num_states - (absorbing >= 0)))


def test_posterior_uses_reachability_not_one_over_s():
    # S = 2, A = 2: 0 -a0-> 0 was seen, so the tree edge to state 1 must be 0 -a1-> 1.
    counts = np.array([[[1, 0], [0, 0]]])
    assert next_state_posteriors(counts, [0], 2, absorbing=False)[0] == pytest.approx([0, 1])
    # With nothing observed, a slot of state 0 leads to the not-yet-reached states more often.
    prior = generator_prior(3, 2)
    posterior = brute_force_posterior(prior, table_digits(3, 2), 2, {}, (0, 0))
    dp = next_state_posteriors(np.zeros((1, 3, 3)), [0], 2, absorbing=False)[0]
    assert dp == pytest.approx(posterior)
    assert dp[0] < 1 / 3 < dp[1]


SMALL_CASES = [  # (num_states, num_actions, absorbing, num_demos, demo_length, query_length)
    (2, 2, False, 1, 2, 4),
    (3, 2, False, 2, 2, 5),
    (2, 3, False, 1, 3, 4),
    (3, 2, True, 2, 2, 4),
    (3, 3, False, 2, 3, 5),
]


@pytest.mark.parametrize("case", SMALL_CASES, ids=lambda c: f"{c[0]}s{c[1]}a{'abs' * c[2]}")
def test_stored_bayes_reference_matches_brute_force(case):
    num_states, num_actions, absorbing, demos, demo_length, query_length = case
    fields = dict(num_states=num_states, num_actions=num_actions, absorbing=absorbing)
    fields.update(num_demos=demos, demo_length=demo_length, query_length=query_length)
    sizes = dict(num_train=1, num_validation=1, num_test=25)
    dataset = build_dataset("fsm_icl", "3s3a", score_demonstrations=True, **fields, **sizes)
    dataset = dataset["test"]
    prior = generator_prior(num_states, num_actions, absorbing)
    digits = table_digits(num_states, num_actions)
    vocab = FSMVocab()
    checked_unseen = 0
    for row in dataset:
        tokens, labels = row["input_ids"], row["labels"]
        observed: dict = {}
        for t in range(2, len(tokens)):
            if not (vocab.is_action(tokens[t - 1]) and tokens[t] < vocab.s_max):
                assert labels[t] == -100
                continue
            slot = (tokens[t - 2], tokens[t - 1] - vocab.s_max)
            seen = slot in observed
            posterior = brute_force_posterior(prior, digits, num_actions, observed, slot)
            assert labels[t] == tokens[t]  # score_demonstrations: every next state
            assert row["seen_mask"][t] == int(seen)
            assert row["bayes_correct_prob"][t] == pytest.approx(posterior.max(), abs=1e-12)
            assert row["bayes_true_prob"][t] == pytest.approx(posterior[tokens[t]], abs=1e-12)
            checked_unseen += not seen
            observed.setdefault(slot, tokens[t])
    assert checked_unseen > 10


# ----------------------------------------------------------------------------- generator
def test_every_state_reachable_and_absorbing_state_is_absorbing():
    rng = np.random.default_rng(0)
    for num_states, num_actions in [(1, 1), (2, 1), (3, 3), (5, 5), (8, 8), (8, 2)]:
        for absorbing in [False, True] if num_states > 1 else [False]:
            for _ in range(50):
                fsm = sample_fsm(rng, num_states, num_actions, absorbing)
                assert reachable_from_zero(fsm.transitions) == set(range(num_states))
                if absorbing:
                    assert fsm.absorbing_state >= 1
                    assert (fsm.transitions[fsm.absorbing_state] == fsm.absorbing_state).all()


def _walks(tokens, vocab):
    """The walks of a sequence as token lists, without <eos>/<query>."""
    walks, current = [], []
    for token in tokens:
        if token in (vocab.eos, vocab.query):
            if current:
                walks.append(current)
            current = []
        else:
            current.append(token)
    return walks


@pytest.fixture(scope="module")
def standard():
    return build_dataset("fsm_icl", "5s5a", num_train=20, num_validation=12, num_test=12)


def test_walks_follow_the_stored_table_and_layout(standard):
    vocab = FSMVocab()
    low, high = walk_length_range(5 * math.log(5), 0.2)
    assert (low, high) == (6, 10)
    for row in standard["train"]:
        table = np.array(row["transitions"])
        assert table.shape == (5, 5) and row["absorbing_state"] == -1
        tokens = row["input_ids"]
        assert tokens.count(vocab.query) == 1 and tokens[-1] == vocab.eos
        walks = _walks(tokens, vocab)
        assert len(walks) == 3 + 1  # demonstrations, then the query
        assert len({walk[0] for walk in walks[:3]}) == 3  # distinct demonstration starts
        for walk in walks:
            states, actions = walk[0::2], [a - vocab.s_max for a in walk[1::2]]
            assert low <= len(actions) <= high
            assert all(s < 5 for s in states) and all(0 <= a < 5 for a in actions)
            for state, action, next_state in zip(states, actions, states[1:], strict=False):
                assert table[state, action] == next_state


def test_labels_sit_exactly_on_the_query_next_states(standard):
    vocab = FSMVocab()
    for row in standard["validation"]:
        tokens, labels = row["input_ids"], row["labels"]
        query = tokens.index(vocab.query)
        expected = [
            t for t in range(query + 3, len(tokens)) if vocab.is_action(tokens[t - 1])
        ]  # s0 is at query + 1; next states follow each action
        assert [t for t, label in enumerate(labels) if label != -100] == expected
        assert all(labels[t] == tokens[t] for t in expected)
        assert len(labels) == len(tokens)


def test_absorbing_config_has_an_absorbing_state():
    dataset = build_dataset("fsm_icl", "absorbing_5s5a", **TINY)
    for row in dataset["train"]:
        b = row["absorbing_state"]
        assert 1 <= b < 5
        assert row["transitions"][b] == [b] * 5
        assert reachable_from_zero(np.array(row["transitions"])) == set(range(5))


def test_train_and_held_out_fsms_are_distinct():
    # 3 states, 2 actions: few tables, so i.i.d. draws would collide across splits.
    fields = dict(num_states=3, num_actions=2, num_demos=1, num_train=300, num_validation=40)
    dataset = build_dataset("fsm_icl", "3s3a", num_test=40, **fields)
    tables = {name: {str(r) for r in dataset[name]["transitions"]} for name in dataset}
    assert not tables["train"] & (tables["validation"] | tables["test"])
    assert len(tables["train"]) < 300  # repeats within train are allowed (i.i.d.)
    with pytest.raises(UserError, match="^num_train"):  # one possible table for 1 state
        build_dataset("fsm_icl", "3s3a", num_states=1, num_demos=1, **TINY)


@pytest.mark.parametrize("config_name", [c.name for c in FSMBuilder.BUILDER_CONFIGS])
def test_every_builder_config_builds(config_name, tmp_path):
    dataset = build_dataset("fsm_icl", config_name, cache_dir=str(tmp_path), **TINY)
    sizes = {name: len(split) for name, split in dataset.items()}
    assert sizes == {"train": 4, "validation": 3, "test": 3}
    row = dataset["test"][0]
    config = next(c for c in FSMBuilder.BUILDER_CONFIGS if c.name == config_name)
    assert (row["num_states"], row["num_actions"]) == (config.num_states, config.num_actions)
    assert max(max(r) for r in dataset["train"]["input_ids"]) < FSMVocab().size == 21
    labels = np.array(row["labels"])
    scored = np.array(row["bayes_correct_prob"])[labels != -100]
    assert scored.size and (scored >= 1 / config.num_states - 1e-12).all() and (scored <= 1).all()
    assert "states" in make_builder("fsm_icl", config_name).card_description()


def test_same_seed_gives_identical_data(tmp_path):
    first = build_dataset("fsm_icl", "3s3a", cache_dir=str(tmp_path / "a"), seed=7, **TINY)
    second = build_dataset("fsm_icl", "3s3a", cache_dir=str(tmp_path / "b"), seed=7, **TINY)
    other = build_dataset("fsm_icl", "3s3a", cache_dir=str(tmp_path / "c"), seed=8, **TINY)
    for name in first:
        assert first[name].to_dict() == second[name].to_dict()
    assert first["train"].to_dict() != other["train"].to_dict()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"num_states": 9}, "num_states"),
        ({"num_actions": 11}, "num_actions"),
        ({"num_demos": 0}, "num_demos"),
        ({"demo_length": 0}, "demo_length"),
        ({"query_length": 0}, "query_length"),
        ({"num_demos": 6}, "num_demos"),
        ({"length_jitter": 1.5}, "length_jitter"),
    ],
)
def test_validation_errors_are_one_line_and_name_the_field(fields, field):
    with pytest.raises(UserError) as error:
        make_builder("fsm_icl", "5s5a", **fields)
    message = str(error.value)
    assert message.startswith(f"{field}:") and "\n" not in message


# ----------------------------------------------------------------------------- metrics
def test_preprocess_logits_aligns_predictions_with_labels():
    labels = torch.tensor([[-100, -100, 3, -100, 1]])
    logits = torch.zeros(1, 5, 21)
    logits[0, 1, 3] = logits[0, 3, 2] = 5.0  # right at position 2, wrong at position 4
    predictions, nll = preprocess_logits_for_metrics(logits, labels)
    assert predictions.tolist() == [[-100, -100, 3, -100, 2]]
    expected = -torch.log_softmax(logits[0, 3], -1)[1]
    assert nll[0, 4] == pytest.approx(float(expected)) and nll[0, :4].tolist()[:2] == [0, 0]


def _oracle_prediction(split, with_inputs=True):
    """EvalPrediction as Trainer hands it over: padded with -100 across batches."""
    longest = max(len(ids) for ids in split["input_ids"])
    inputs = np.full((len(split), longest + 3), -100)
    labels = inputs.copy()
    for i, (ids, row_labels) in enumerate(zip(split["input_ids"], split["labels"], strict=True)):
        inputs[i, : len(ids)], labels[i, : len(ids)] = ids, row_labels
    inputs[0, len(split["input_ids"][0])] = FSMVocab().pad  # in-batch <pad> is stripped too
    predictions = np.where(labels != -100, labels, -100)  # always right
    nll = np.where(labels != -100, 0.5, 0.0)
    return EvalPrediction((predictions, nll), labels, inputs=inputs if with_inputs else None)


def test_compute_metrics_oracle_and_exact_fallback(standard):
    split = standard["validation"]
    stored = FSMMetrics.from_dataset(split)(_oracle_prediction(split))
    recomputed = FSMMetrics(5, 5, False, FSMVocab())(_oracle_prediction(split))  # no lookup
    assert stored == pytest.approx(recomputed)
    scored = np.concatenate([np.array(r) != -100 for r in split["labels"]])
    seen = np.concatenate(split["seen_mask"])[scored]
    bayes = np.concatenate(split["bayes_correct_prob"])[scored]
    assert stored["accuracy"] == stored["accuracy_seen"] == stored["accuracy_unseen"] == 1.0
    assert stored["frac_seen"] == pytest.approx(seen.mean())
    assert stored["bayes_accuracy"] == pytest.approx(bayes.mean())
    assert stored["scored_loss"] == pytest.approx(0.5)
    assert stored["num_scored"] == scored.sum()
    with pytest.raises(UserError, match="^include_for_metrics"):
        FSMMetrics.from_dataset(split)(_oracle_prediction(split, with_inputs=False))


def test_trainer_compute_metrics_agrees_with_own_loop(standard, tmp_path):
    from transformers import Trainer, TrainingArguments

    from latent_lab.models.arguments import ModelArguments
    from latent_lab.models.factory import build_model

    vocab = FSMVocab()
    torch.manual_seed(0)
    model_args = ModelArguments(hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    model = build_model(model_args, vocab.size, pad_token_id=vocab.pad, eos_token_id=vocab.eos)
    split = standard["validation"]
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_eval_batch_size=len(split),
        report_to="none",
        include_for_metrics=["inputs"],
        use_cpu=True,
    )
    collator = FSMCollator(vocab.pad)
    hooks = trainer_metric_hooks(split)
    trainer = Trainer(model, args, eval_dataset=split, data_collator=collator, **hooks)
    from_trainer = trainer.evaluate()
    # eval_loss is a mean of batch means: with one batch it is the per-token scored loss.
    assert from_trainer["eval_loss"] == pytest.approx(from_trainer["eval_scored_loss"], rel=1e-5)
    trainer.args.per_device_eval_batch_size = 5  # batches of different lengths, -100 padding
    from_trainer = trainer.evaluate()
    own = evaluate_fsm(model, split, batch_size=7)
    for key, value in own.items():
        assert from_trainer[f"eval_{key}"] == pytest.approx(value, rel=1e-5, nan_ok=True), key
    assert 0 < own["num_scored"] and 0 < own["frac_seen"] < 1
