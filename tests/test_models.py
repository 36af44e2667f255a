"""Models: every type builds, trains under Trainer, round-trips, and generates correctly."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, Trainer, TrainingArguments, set_seed

import latent_lab  # noqa: F401  registers lstm and rnn with the Auto classes
from latent_lab.errors import UserError
from latent_lab.models import (
    LSTMForCausalLM,
    ModelArguments,
    build_model,
    count_parameters,
    num_parameters,
    solve_hidden_size,
    solve_intermediate_size,
)

FSM_VOCAB = 21  # docs/spec/fsm_icl.md: 8 states + 10 actions + <eos>, <query>, <pad>
VOCAB = 11
RECURRENT_TYPES = ("lstm", "rnn")
MODEL_TYPES = ("gpt2", "llama", "lstm", "rnn")  # the project's own four; tests/test_zoo.py: all
EXPECTED_CLASS = {
    "gpt2": "GPT2LMHeadModel",
    "llama": "LlamaForCausalLM",
    "lstm": "LSTMForCausalLM",
    "rnn": "RNNForCausalLM",
}


@pytest.fixture(autouse=True)
def _seeded():
    set_seed(0)


def tiny_args(model_type: str, **overrides) -> ModelArguments:
    fields = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2)
    fields.update(max_position_embeddings=32, **overrides)
    return ModelArguments(model_type=model_type, **fields)


def random_tokens(batch: int, length: int) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length))


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_build_every_model_type(model_type):
    model = build_model(tiny_args(model_type), VOCAB, pad_token_id=10, eos_token_id=9)
    assert type(model).__name__ == EXPECTED_CLASS[model_type]
    assert model.config.vocab_size == VOCAB
    assert (model.config.pad_token_id, model.config.eos_token_id) == (10, 9)
    assert count_parameters(model) == num_parameters(tiny_args(model_type), VOCAB)
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert tied == (model_type == "gpt2")  # nanoGPT ties; llama and the RNNs do not

    input_ids = random_tokens(2, 7)
    labels = input_ids.clone()
    labels[:, :3] = -100
    output = model(input_ids=input_ids, labels=labels)
    assert output.logits.shape == (2, 7, VOCAB)
    # Trainer's num_items_in_batch turns the mean into a sum over that many scored tokens
    scored = int((labels[:, 1:] != -100).sum())
    summed = model(input_ids=input_ids, labels=labels, num_items_in_batch=torch.tensor(scored))
    torch.testing.assert_close(summed.loss, output.loss)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_trainer_runs_two_steps(model_type, tmp_path):
    model = build_model(tiny_args(model_type), VOCAB)
    before = [parameter.detach().clone() for parameter in model.parameters()]
    input_ids = random_tokens(8, 12)
    labels = input_ids.clone()
    labels[:, :4] = -100
    dataset = Dataset.from_dict({"input_ids": input_ids.tolist(), "labels": labels.tolist()})
    arguments = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        learning_rate=1e-2,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=dataset, eval_dataset=dataset)
    train_result = trainer.train()
    # prediction gathers logits only: the recurrent state is in keys_to_ignore_at_inference
    prediction = trainer.predict(dataset)

    assert train_result.global_step == 2
    assert torch.isfinite(torch.tensor(train_result.training_loss))
    assert prediction.predictions.shape == (8, 12, VOCAB)
    assert torch.isfinite(torch.tensor(prediction.metrics["test_loss"]))
    changed = [
        not torch.equal(old, new) for old, new in zip(before, model.parameters(), strict=True)
    ]
    assert all(changed)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_save_and_load_give_identical_logits(model_type, tmp_path):
    model = build_model(tiny_args(model_type, tie_word_embeddings=True), VOCAB).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded) is type(model)
    assert loaded.get_output_embeddings().weight is loaded.get_input_embeddings().weight
    input_ids = random_tokens(2, 9)
    with torch.no_grad():
        assert torch.equal(model(input_ids=input_ids).logits, loaded(input_ids=input_ids).logits)


@pytest.mark.parametrize("model_type", RECURRENT_TYPES)
def test_hidden_states_hold_embeddings_and_every_layer(model_type):
    model = build_model(tiny_args(model_type, num_hidden_layers=3), VOCAB).eval()
    output = model(input_ids=random_tokens(2, 5), output_hidden_states=True)
    assert len(output.hidden_states) == 1 + 3
    assert all(states.shape == (2, 5, 16) for states in output.hidden_states)
    # the last entry is what the LM head reads, so probes see the model's final features
    torch.testing.assert_close(model.lm_head(output.hidden_states[-1]), output.logits)


@pytest.mark.parametrize("model_type", RECURRENT_TYPES)
def test_recurrent_models_refuse_to_skip_padding(model_type):
    model = build_model(tiny_args(model_type), VOCAB).eval()
    input_ids = random_tokens(2, 6)
    left_padded = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="cannot skip padding"):
        model(input_ids=input_ids, attention_mask=left_padded)
    right_padded = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="cannot skip padding"):
        model.generate(input_ids, attention_mask=right_padded, max_new_tokens=2)
    # right padding is harmless for training: real positions never see the pads
    padded = model(input_ids=input_ids, attention_mask=right_padded).logits
    unpadded = model(input_ids=input_ids[:1, :4]).logits
    torch.testing.assert_close(padded[:1, :4], unpadded)


@pytest.mark.parametrize("model_type", RECURRENT_TYPES)
def test_dropout_model_is_deterministic_in_eval_mode(model_type):
    model = build_model(tiny_args(model_type, dropout=0.5), VOCAB)
    input_ids = random_tokens(2, 8)
    model.train()
    assert not torch.equal(model(input_ids=input_ids).logits, model(input_ids=input_ids).logits)
    model.eval()
    assert torch.equal(model(input_ids=input_ids).logits, model(input_ids=input_ids).logits)


@pytest.mark.parametrize(
    ("model_type", "hidden_size", "num_layers", "expected"),
    [
        ("lstm", 256, 2, 1_060_000),  # seed's large LSTM, ~1.06M
        ("lstm", 64, 2, 68_000),  # small LSTM, ~68K
        ("rnn", 256, 8, 1_060_000),  # deep RNN, "~1M, matches the 2-layer LSTM"
    ],
)
def test_reference_model_sizes(model_type, hidden_size, num_layers, expected):
    model_args = ModelArguments(model_type, hidden_size=hidden_size, num_hidden_layers=num_layers)
    assert num_parameters(model_args, FSM_VOCAB) == pytest.approx(expected, rel=0.05)


def test_llama_intermediate_size_matched_to_small_lstm():
    model_args = ModelArguments("llama", hidden_size=64, num_attention_heads=4, num_hidden_layers=2)
    intermediate_size = solve_intermediate_size(model_args, FSM_VOCAB, 68_000)
    matched = dataclasses.replace(model_args, intermediate_size=intermediate_size)
    assert intermediate_size < 8 * 64 / 3  # smaller than llama's default MLP
    assert num_parameters(matched, FSM_VOCAB) == pytest.approx(68_000, rel=0.05)
    with pytest.raises(UserError, match="intermediate_size"):
        solve_intermediate_size(ModelArguments("lstm"), FSM_VOCAB, 68_000)


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_target_num_parameters_solves_hidden_size(model_type):
    model_args = tiny_args(model_type, num_attention_heads=4, target_num_parameters=60_000)
    model = build_model(model_args, FSM_VOCAB)
    hidden_size = solve_hidden_size(model_args, FSM_VOCAB, 60_000)
    assert model.get_input_embeddings().embedding_dim == hidden_size
    assert hidden_size % (1 if model_type in RECURRENT_TYPES else 4) == 0
    assert count_parameters(model) == pytest.approx(60_000, rel=0.1)
    # the solution is the closest admissible width: its neighbours are no better
    step = {"gpt2": 4, "llama": 8}.get(model_type, 1)
    error = abs(count_parameters(model) - 60_000)
    for neighbour in (hidden_size - step, hidden_size + step):
        other = dataclasses.replace(model_args, hidden_size=neighbour, target_num_parameters=None)
        assert abs(num_parameters(other, FSM_VOCAB) - 60_000) >= error


def test_hidden_size_must_split_into_heads():
    with pytest.raises(UserError, match="hidden_size"):
        build_model(tiny_args("gpt2", hidden_size=18, num_attention_heads=4), VOCAB)


def test_init_from_loads_a_saved_model_and_checks_it(tmp_path):
    saved = build_model(tiny_args("lstm"), VOCAB)
    saved.save_pretrained(tmp_path / "run")
    loaded = build_model(tiny_args("gpt2", init_from=str(tmp_path / "run")), VOCAB)
    assert isinstance(loaded, LSTMForCausalLM)
    assert torch.equal(loaded.lm_head.weight, saved.lm_head.weight)

    with pytest.raises(UserError, match="^init_from: .* does not exist"):
        build_model(tiny_args("lstm", init_from=str(tmp_path / "missing")), VOCAB)
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="^init_from: .* has no config.json"):
        build_model(tiny_args("lstm", init_from=str(tmp_path / "empty")), VOCAB)
    with pytest.raises(UserError, match="^init_from: .* vocab_size 11"):
        build_model(tiny_args("lstm", init_from=str(tmp_path / "run")), FSM_VOCAB)
