"""FSM in-context learning: generator, layout, builder and metrics (the exact Bayes reference
against brute force: test_fsm_reference.py).
"""

import math

import numpy as np
import pytest
import torch
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

TINY = {"num_train": 4, "num_validation": 3, "num_test": 3}


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
    first = build_dataset("fsm_icl", "3s3a", cache_dir=str(tmp_path / "a"), data_seed=7, **TINY)
    second = build_dataset("fsm_icl", "3s3a", cache_dir=str(tmp_path / "b"), data_seed=7, **TINY)
    other = build_dataset("fsm_icl", "3s3a", cache_dir=str(tmp_path / "c"), data_seed=8, **TINY)
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
        ({"data_seed": -1}, "data_seed"),
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
