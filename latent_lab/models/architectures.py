"""Every architecture latent_lab has checked, as flat fields -> an HF config, a width step, an
optional fine size knob and the recurrent state-size formula.

Widths: `hidden_size` is the width every architecture scales (n_embd for gpt2); the other
fields follow it as below, so one flag (`--hidden_size`, `--target_num_parameters`,
`--target_state_size`) sizes any of them. `model_options` (a YAML mapping) sets any other field
of the architecture's config and wins over these defaults.

State size: the floats per sequence a model carries from one token to the next, every layer
and every state tensor, attention KV caches excluded (they grow with the sequence). Each
formula counts what the model's own cache stores (tests/test_zoo.py measures the cache).

Other causal LMs that transformers registers build through the generic path (factory.py) with
small-model defaults but no state formula; the types below are refused, each for a reason found
on transformers 5.24 (tests pin the reasons).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

# Known to generate wrongly or not at all on transformers 5.24 (decoding by full forwards is
# the reference; tests/test_zoo.py). The project does not patch transformers' models.
REFUSED = {
    "rwkv": "generate() with a batch of more than one prompt mixes the prompts' states "
    "(the one-token step broadcasts (B, d) against (B, 1, d)) and beam search raises",
    "recurrent_gemma": "beam search does not reorder the recurrent state (silently wrong) and "
    "an all-recurrent stack raises in generate()",
    "zamba2": "the one-token decoding step skips the dt clamp that full forwards apply "
    "(time_step_min), so generate() disagrees with full forwards",
    "nemotron_h": "the one-token decoding step skips the dt clamp that full forwards apply "
    "(time_step_min), so generate() disagrees with full forwards",
}


@dataclass(frozen=True)
class Architecture:
    model_type: str
    # Config kwargs for width d = hidden_size and the other flat fields (model_args).
    fields: Callable
    # hidden_size must be a multiple of this (heads, head dims, cache alignment).
    width_multiple: Callable
    # Floats of recurrent state per sequence, from the built config; None: attention only.
    state_size: Callable | None = None
    # A size refined after the width when the width grid is too coarse for a parameter target:
    # (what it is, function(model_args, positive int) -> model_args), increasing in the int.
    fine_knob: tuple[str, Callable] | None = None
    # Ties input and output embeddings unless tie_word_embeddings says otherwise.
    ties_by_default: bool = False


def _heads(args) -> int:
    return args.num_attention_heads


def _gpt2(args) -> dict:
    return dict(
        n_embd=args.hidden_size,
        n_layer=args.num_hidden_layers,
        n_head=args.num_attention_heads,
        n_inner=args.intermediate_size,
        n_positions=args.max_position_embeddings,
        resid_pdrop=args.dropout,
        embd_pdrop=args.dropout,
        attn_pdrop=args.dropout,
    )


def _llama(args) -> dict:
    intermediate = args.intermediate_size or round(8 * args.hidden_size / 3)
    return dict(
        hidden_size=args.hidden_size,
        intermediate_size=intermediate,
        num_hidden_layers=args.num_hidden_layers,
        num_attention_heads=args.num_attention_heads,
        num_key_value_heads=args.num_attention_heads,
        max_position_embeddings=args.max_position_embeddings,
        attention_dropout=args.dropout,
    )


def _recurrent(args) -> dict:
    return dict(
        hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers, dropout=args.dropout
    )


def _mamba(args) -> dict:
    return dict(
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_hidden_layers,
        state_size=16,
        expand=2,
        conv_kernel=4,
    )


def _mamba_state(config) -> int:
    """L * E * (K + N): per layer a conv state (E, K) and an SSM state (E, N), E = expand * d.
    (The cache keeps K conv columns; K - 1 of them carry information.)"""
    inner = config.intermediate_size
    return config.num_hidden_layers * inner * (config.conv_kernel + config.state_size)


def _mamba2(args) -> dict:
    # num_heads * head_dim must equal expand * hidden_size: 4 heads of hidden_size / 2.
    return dict(
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_hidden_layers,
        state_size=16,
        expand=2,
        conv_kernel=4,
        num_heads=4,
        head_dim=args.hidden_size // 2,
        n_groups=1,
        chunk_size=64,
    )


def _mamba2_state(config) -> int:
    """L * ((E + 2 G N) K + H P N): per layer a conv state over x, B and C (E + 2 G N
    channels, K columns) and an SSM state (H heads of P x N), E = H P = expand * d."""
    inner = config.num_heads * config.head_dim
    conv = (inner + 2 * config.n_groups * config.state_size) * config.conv_kernel
    return config.num_hidden_layers * (conv + inner * config.state_size)


def _xlstm(args) -> dict:
    # The cache rounds the q/k and v widths up to multiples of 64 and the layers do not: with
    # both factors 1.0 and hidden_size a multiple of 64 the two agree (else generate raises).
    return dict(
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_hidden_layers,
        num_heads=4,
        qk_dim_factor=1.0,
        v_dim_factor=1.0,
    )


def _xlstm_state(config) -> int:
    """L * (qk v / H + qk + H): per layer and head a matrix memory C (qk/H x v/H), a normaliser
    n (qk/H) and a stabiliser m (1); qk = d * qk_dim_factor, v = d * v_dim_factor."""
    qk = int(config.hidden_size * config.qk_dim_factor)
    v = int(config.hidden_size * config.v_dim_factor)
    heads = config.num_heads
    return config.num_hidden_layers * (qk * v // heads + qk + heads)


def _xlstm_ffn(args, units: int):
    # xLSTM rounds its feed-forward width up to a multiple of 64: one unit = 64 channels.
    options = {**(args.model_options or {}), "ffn_proj_factor": 64 * units / args.hidden_size}
    return dataclasses.replace(args, model_options=options)


def _qwen3_next(args) -> dict:
    # Gated delta-net layers with a full-attention layer every fourth (and at least the last:
    # a cache of linear layers only crashes in transformers 5.24); no mixture of experts.
    layers = args.num_hidden_layers
    types = ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(layers)]
    if "full_attention" not in types:
        types[-1] = "full_attention"
    width = args.hidden_size
    return dict(
        hidden_size=width,
        num_hidden_layers=layers,
        intermediate_size=args.intermediate_size or 4 * width,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        linear_num_key_heads=4,
        linear_num_value_heads=4,
        linear_key_head_dim=width // 4,
        linear_value_head_dim=width // 4,
        linear_conv_kernel_dim=4,
        num_experts=0,
        layer_types=types,
        max_position_embeddings=args.max_position_embeddings,
        attention_dropout=args.dropout,
    )


def _qwen3_next_state(config) -> int:
    """Per gated delta-net layer (2 Hk dk + Hv dv) K + Hv dk dv: a conv state over q, k, v
    (K columns) and the delta-rule memory (Hv heads of dk x dv); full-attention layers hold
    only a KV cache (excluded)."""
    key = config.linear_num_key_heads * config.linear_key_head_dim
    value = config.linear_num_value_heads * config.linear_value_head_dim
    conv = (2 * key + value) * config.linear_conv_kernel_dim
    memory = (
        config.linear_num_value_heads * config.linear_key_head_dim * config.linear_value_head_dim
    )
    linear_layers = sum(kind == "linear_attention" for kind in config.layer_types)
    return linear_layers * (conv + memory)


def _intermediate(args, value: int):
    return dataclasses.replace(args, intermediate_size=value)


ARCHITECTURES = {
    a.model_type: a
    for a in (
        Architecture(
            "gpt2",
            _gpt2,
            _heads,
            ties_by_default=True,
            fine_knob=("intermediate_size", _intermediate),
        ),
        Architecture(
            "llama",
            _llama,
            lambda args: 2 * args.num_attention_heads,
            fine_knob=("intermediate_size", _intermediate),
        ),
        Architecture(
            "lstm", _recurrent, lambda args: 1, lambda c: 2 * c.hidden_size * c.num_hidden_layers
        ),
        Architecture(
            "rnn", _recurrent, lambda args: 1, lambda c: c.hidden_size * c.num_hidden_layers
        ),
        Architecture("mamba", _mamba, lambda args: 1, _mamba_state, ties_by_default=True),
        Architecture("mamba2", _mamba2, lambda args: 2, _mamba2_state),
        Architecture(
            "xlstm",
            _xlstm,
            lambda args: 64,
            _xlstm_state,
            fine_knob=("model_options.ffn_proj_factor", _xlstm_ffn),
        ),
        Architecture(
            "qwen3_next",
            _qwen3_next,
            lambda args: 4,
            _qwen3_next_state,
            fine_knob=("intermediate_size", _intermediate),
        ),
    )
}
TESTED_TYPES = tuple(ARCHITECTURES)
