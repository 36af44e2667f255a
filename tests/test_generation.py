"""generate() equals decoding by full forwards, step by step, for every model type: greedy,
sampling, beam search, batch > 1, with and without a cache (tests/generation_check.py)."""

from __future__ import annotations

import pytest
import torch
from generation_check import (
    assert_generate_matches_full_forwards,
    make_context_dependent,
)
from transformers import AutoConfig, AutoModelForCausalLM

import latent_lab  # noqa: F401  registers lstm and rnn with the Auto classes
from latent_lab.models import ModelArguments, build_model

VOCAB = 11
MODEL_TYPES = ("lstm", "rnn", "gpt2", "llama")


def context_dependent_model(model_type: str, seed: int = 0):
    torch.manual_seed(seed)
    model_args = ModelArguments(
        model_type, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=32,
    )  # fmt: skip
    return make_context_dependent(build_model(model_args, VOCAB), seed=seed)


def prompt_of(batch: int, length: int = 5, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["greedy", "sample", "beam"])
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_generate_scores_equal_full_forward_logits(model_type, mode):
    model = context_dependent_model(model_type)
    assert_generate_matches_full_forwards(model, prompt_of(batch=3), mode)


@pytest.mark.parametrize("model_type", ["lstm", "rnn"])
def test_each_step_after_the_prompt_feeds_one_token(model_type):
    model = context_dependent_model(model_type)
    lengths = []
    model.register_forward_pre_hook(
        lambda module, args, kwargs: lengths.append(kwargs["input_ids"].shape[1]),
        with_kwargs=True,
    )
    model.generate(prompt_of(batch=2, length=6), max_new_tokens=5, min_new_tokens=5)
    assert lengths == [6, 1, 1, 1, 1]  # the cache carries everything before the newest token


@pytest.mark.parametrize("mode", ["greedy", "beam"])
@pytest.mark.parametrize("model_type", ["lstm", "rnn"])
def test_generate_without_cache_gives_the_same_sequences(model_type, mode):
    model = context_dependent_model(model_type)
    options = dict(max_new_tokens=6, min_new_tokens=6, do_sample=False)
    if mode == "beam":
        options.update(num_beams=3)
    prompt = prompt_of(batch=2)
    with_cache = model.generate(prompt, **options)
    without = model.generate(prompt, use_cache=False, **options)
    assert torch.equal(with_cache, without)


def greedy_by_full_forwards(model, input_ids: torch.Tensor, new_tokens: int) -> torch.Tensor:
    sequence = input_ids
    with torch.no_grad():
        for _ in range(new_tokens):
            next_token = model(input_ids=sequence).logits[:, -1].argmax(dim=-1, keepdim=True)
            sequence = torch.cat([sequence, next_token], dim=1)
    return sequence


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("model_type", ["lstm", "rnn"])
def test_issue_example_with_scaled_weights_generates_like_full_forwards(model_type, seed):
    """The trust issue's example (2 prompts of 5 tokens, hidden 64, 2 layers, vocab 21), with
    weights scaled so that the output depends on the context, for 6 seeds."""
    torch.manual_seed(seed)
    config = AutoConfig.for_model(model_type, vocab_size=21, hidden_size=64, num_hidden_layers=2)
    model = make_context_dependent(AutoModelForCausalLM.from_config(config), seed=seed).float()
    prompt = torch.randint(0, 21, (2, 5))
    generated = model.generate(prompt, max_new_tokens=6, do_sample=False)
    assert torch.equal(generated, greedy_by_full_forwards(model, prompt, 6))
    # without the state the continuation differs: the check is not passing by luck
    newest_only = model(input_ids=generated[:, -2:-1]).logits[:, -1]
    with_context = model(input_ids=generated[:, :-1]).logits[:, -1]
    assert (newest_only - with_context).abs().max() > 1e-2
