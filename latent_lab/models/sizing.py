"""Fair sizes: solve the width for a target parameter count or a target recurrent state size.

Parameter counts come from the real model class built on the meta device (no memory, no init
cost), so they agree exactly with count_parameters() of the model build_model() returns, tied
embeddings included. State sizes come from the architecture's formula (architectures.py).
Both searches run over admissible widths (multiples of the architecture's width step); when the
width grid is too coarse for a parameter target, the architecture's fine knob (the MLP width,
for instance) is solved at that width. A target no size reaches within TOLERANCE is an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from latent_lab.errors import UserError
from latent_lab.models.arguments import ModelArguments

TOLERANCE = 0.05  # relative: the "fair size" and the zoo configs are within it


def count_parameters(model) -> int:
    """Number of distinct parameters (a tied embedding/head matrix counts once)."""
    return sum(parameter.numel() for parameter in model.parameters())


def num_parameters(model_args: ModelArguments, vocab_size: int) -> int:
    """Exact parameter count of the model `model_args` describes, without allocating it."""
    import torch
    from transformers import AutoModelForCausalLM

    from latent_lab.models.factory import model_config

    config = model_config(model_args, vocab_size)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return count_parameters(model)


def solve_size(model_args: ModelArguments, vocab_size: int) -> ModelArguments:
    """model_args with hidden_size (and maybe a fine knob) solved for its target, if any."""
    if model_args.target_num_parameters is not None:
        return solve_for_parameters(model_args, vocab_size, model_args.target_num_parameters)
    if model_args.target_state_size is not None:
        return solve_for_state_size(model_args, vocab_size, model_args.target_state_size)
    return model_args


def _base(model_args: ModelArguments) -> ModelArguments:
    return dataclasses.replace(
        model_args, target_num_parameters=None, target_state_size=None, init_from=None
    )


def _width_search(model_args: ModelArguments, measure: Callable, target: int) -> ModelArguments:
    from latent_lab.models.factory import hidden_size_multiple

    multiple = hidden_size_multiple(model_args)

    def at(units: int) -> ModelArguments:
        return dataclasses.replace(model_args, hidden_size=units * multiple)

    return at(closest_to_target(lambda units: measure(at(units)), target))


def solve_for_parameters(model_args: ModelArguments, vocab_size: int, target: int):
    from latent_lab.models.architectures import ARCHITECTURES

    def count(args):
        return num_parameters(args, vocab_size)

    solved = _width_search(_base(model_args), count, target)
    architecture = ARCHITECTURES.get(model_args.model_type)
    knob = architecture.fine_knob if architecture else None
    free = model_args.intermediate_size is None and "ffn_proj_factor" not in (
        model_args.model_options or {}
    )
    if _error(count(solved), target) > TOLERANCE and knob and free:
        name, apply = knob
        value = closest_to_target(lambda v: count(apply(solved, v)), target)
        solved = apply(solved, value)
    _check_reached("target_num_parameters", target, count(solved), solved)
    return solved


def solve_for_state_size(model_args: ModelArguments, vocab_size: int, target: int):
    from latent_lab.models.architectures import ARCHITECTURES
    from latent_lab.models.factory import check_model_type, model_config

    check_model_type(model_args.model_type)
    architecture = ARCHITECTURES.get(model_args.model_type)
    if architecture is None or architecture.state_size is None:
        what = "carries no recurrent state (attention only: its KV cache grows with length)"
        if architecture is None:
            what = "has no state-size formula in latent_lab (latent_lab/models/architectures.py)"
        raise UserError(
            f"target_state_size: {model_args.model_type} {what}; size it with "
            "target_num_parameters or hidden_size"
        )

    def state(args):
        return architecture.state_size(model_config(args, vocab_size))

    solved = _width_search(_base(model_args), state, target)
    _check_reached("target_state_size", target, state(solved), solved)
    return solved


def _error(value: int, target: int) -> float:
    return abs(value - target) / target


def _check_reached(field: str, target: int, reached: int, args: ModelArguments) -> None:
    if _error(reached, target) > TOLERANCE:
        raise UserError(
            f"{field}: {target:,} is out of reach for {args.model_type}: the closest size is "
            f"{reached:,} (hidden_size {args.hidden_size}, {args.num_hidden_layers} layers); "
            f"change num_hidden_layers or the target (within {TOLERANCE:.0%})"
        )


def solve_intermediate_size(model_args: ModelArguments, vocab_size: int, target: int) -> int:
    """The MLP width of a model of fixed hidden_size closest to `target` parameters (the seed's
    "llama-style, hidden 64, intermediate size matched" baseline)."""
    from latent_lab.models.architectures import ARCHITECTURES

    architecture = ARCHITECTURES.get(model_args.model_type)
    if (
        architecture is None
        or not architecture.fine_knob
        or architecture.fine_knob[0] != ("intermediate_size")
    ):
        raise UserError(
            f"intermediate_size: {model_args.model_type!r} has no MLP width to solve; "
            f"match {model_args.model_type} by hidden_size or target_num_parameters"
        )
    base = _base(model_args)

    def count(width: int) -> int:
        return num_parameters(dataclasses.replace(base, intermediate_size=width), vocab_size)

    return closest_to_target(count, target)


def solve_hidden_size(model_args: ModelArguments, vocab_size: int, target: int) -> int:
    """The admissible hidden_size whose model is closest to `target` parameters, other fields
    fixed (no fine knob)."""
    return _width_search(
        _base(model_args), lambda a: num_parameters(a, vocab_size), target
    ).hidden_size


def closest_to_target(count: Callable[[int], int], target: int) -> int:
    """The n >= 1 whose count(n) is closest to target, for count increasing in n (bisection)."""
    high = 1
    while count(high) < target:
        high *= 2
        if high > 2**24:
            raise UserError(f"no size reaches {target:,}: the count stops growing")
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
