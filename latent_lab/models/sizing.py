"""Match a target parameter count by solving for a width.

Counts come from the real model class built on the meta device (no memory, no init cost), so
they agree exactly with count_parameters() of the model build_model() returns, for every
model type, tied embeddings included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn
from transformers import AutoModelForCausalLM

from latent_lab.errors import UserError
from latent_lab.models.arguments import ModelArguments

TRANSFORMER_TYPES = ("gpt2", "llama")


def count_parameters(model: nn.Module) -> int:
    """Number of distinct parameters (a tied embedding/head matrix counts once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def num_parameters(model_args: ModelArguments, vocab_size: int) -> int:
    """Exact parameter count of the model `model_args` describes, without allocating it."""
    # factory imports this module to solve sizes, so import it here
    from latent_lab.models.factory import model_config

    config = model_config(model_args, vocab_size)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return count_parameters(model)


def solve_hidden_size(model_args: ModelArguments, vocab_size: int, target: int) -> int:
    """The hidden_size whose model is closest to `target` parameters, other fields fixed.

    Transformers keep hidden_size a multiple of num_attention_heads (2x for llama's RoPE), and
    an unset intermediate_size keeps following hidden_size (4x gpt2, 8/3x llama).
    """
    from latent_lab.models.factory import hidden_size_multiple

    multiple = hidden_size_multiple(model_args)
    base = dataclasses.replace(model_args, target_num_parameters=None, init_from=None)

    def count(units: int) -> int:
        return num_parameters(dataclasses.replace(base, hidden_size=units * multiple), vocab_size)

    return closest_to_target(count, target) * multiple


def solve_intermediate_size(model_args: ModelArguments, vocab_size: int, target: int) -> int:
    """The MLP width of a transformer of fixed hidden_size closest to `target` parameters
    (the seed's "llama-style, hidden 64, intermediate size matched" baseline)."""
    if model_args.model_type not in TRANSFORMER_TYPES:
        raise UserError(
            f"intermediate_size: only {' and '.join(TRANSFORMER_TYPES)} have an MLP width to "
            f"solve, not {model_args.model_type!r}; match {model_args.model_type} by hidden_size"
        )
    base = dataclasses.replace(model_args, target_num_parameters=None, init_from=None)

    def count(width: int) -> int:
        return num_parameters(dataclasses.replace(base, intermediate_size=width), vocab_size)

    return closest_to_target(count, target)


def closest_to_target(count: Callable[[int], int], target: int) -> int:
    """The n >= 1 whose count(n) is closest to target, for count increasing in n (bisection)."""
    high = 1
    while count(high) < target:
        high *= 2
    low = high // 2  # 0, or an n with count(n) < target
    while high - low > 1:
        middle = (low + high) // 2
        if count(middle) >= target:
            high = middle
        else:
            low = middle
    if low >= 1 and target - count(low) <= count(high) - target:
        return low
    return high
