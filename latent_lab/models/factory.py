"""The one place latent_lab builds models: flat ModelArguments -> an HF causal LM.

gpt2 (GPT2LMHeadModel, nanoGPT-like: tied embeddings by default), llama (LlamaForCausalLM:
RoPE, SwiGLU, RMSNorm, no biases), lstm and rnn (this package). `init_from` loads a finished
run's saved model instead; `target_num_parameters` solves hidden_size (sizing.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedModel,
)

from latent_lab.errors import UserError
from latent_lab.models.arguments import ModelArguments
from latent_lab.models.lstm import LSTMConfig
from latent_lab.models.rnn import RNNConfig
from latent_lab.models.sizing import count_parameters, solve_hidden_size

__all__ = ["build_model", "count_parameters", "hidden_size_multiple", "model_config"]


def hidden_size_multiple(model_args: ModelArguments) -> int:
    """hidden_size must be a multiple of this: heads split it, and RoPE needs even head dims."""
    if model_args.model_type == "gpt2":
        return model_args.num_attention_heads
    if model_args.model_type == "llama":
        return 2 * model_args.num_attention_heads
    return 1


def _check_heads_divide_hidden(model_args: ModelArguments) -> None:
    multiple = hidden_size_multiple(model_args)
    if model_args.hidden_size % multiple:
        what = "2 * num_attention_heads (RoPE)" if model_args.model_type == "llama" else "heads"
        raise UserError(
            f"hidden_size: {model_args.hidden_size} is not a multiple of {what} = {multiple}; "
            f"choose e.g. {max(multiple, model_args.hidden_size // multiple * multiple)}"
        )


def _gpt2_config(model_args: ModelArguments, vocab_size: int, token_ids: dict) -> GPT2Config:
    return GPT2Config(
        vocab_size=vocab_size,
        n_embd=model_args.hidden_size,
        n_layer=model_args.num_hidden_layers,
        n_head=model_args.num_attention_heads,
        n_inner=model_args.intermediate_size,  # None: GPT-2's 4 * hidden
        n_positions=model_args.max_position_embeddings,
        resid_pdrop=model_args.dropout,
        embd_pdrop=model_args.dropout,
        attn_pdrop=model_args.dropout,
        tie_word_embeddings=_tie(model_args, default=True),
        **token_ids,
    )


def _llama_config(model_args: ModelArguments, vocab_size: int, token_ids: dict) -> LlamaConfig:
    intermediate_size = model_args.intermediate_size or round(8 * model_args.hidden_size / 3)
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=model_args.hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=model_args.num_hidden_layers,
        num_attention_heads=model_args.num_attention_heads,
        num_key_value_heads=model_args.num_attention_heads,
        max_position_embeddings=model_args.max_position_embeddings,
        attention_dropout=model_args.dropout,  # Llama has no residual/embedding dropout
        tie_word_embeddings=_tie(model_args, default=False),
        **token_ids,
    )


def _recurrent_config(model_args: ModelArguments, vocab_size: int, token_ids: dict):
    config_class = LSTMConfig if model_args.model_type == "lstm" else RNNConfig
    return config_class(
        vocab_size=vocab_size,
        hidden_size=model_args.hidden_size,
        num_hidden_layers=model_args.num_hidden_layers,
        dropout=model_args.dropout,
        tie_word_embeddings=_tie(model_args, default=False),
        **token_ids,
    )


def _tie(model_args: ModelArguments, default: bool) -> bool:
    return default if model_args.tie_word_embeddings is None else model_args.tie_word_embeddings


_CONFIG_BUILDERS = {
    "gpt2": _gpt2_config,
    "llama": _llama_config,
    "lstm": _recurrent_config,
    "rnn": _recurrent_config,
}


def model_config(
    model_args: ModelArguments,
    vocab_size: int,
    *,
    pad_token_id: int | None = None,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
) -> PretrainedConfig:
    """The HF config for `model_args` as given (no init_from, no parameter-count solving)."""
    _check_heads_divide_hidden(model_args)
    # Always pass the task's token ids: HF defaults (e.g. GPT-2's 50256) lie outside our vocab.
    token_ids = dict(
        pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id
    )
    return _CONFIG_BUILDERS[model_args.model_type](model_args, vocab_size, token_ids)


def build_model(
    model_args: ModelArguments,
    vocab_size: int,
    *,
    pad_token_id: int | None = None,
    bos_token_id: int | None = None,
    eos_token_id: int | None = None,
) -> PreTrainedModel:
    """A freshly initialised model (torch's global RNG: seed first), or `init_from`'s model."""
    if model_args.init_from is not None:
        return _load_saved_model(model_args.init_from, vocab_size)
    if model_args.target_num_parameters is not None:
        hidden_size = solve_hidden_size(model_args, vocab_size, model_args.target_num_parameters)
        model_args = dataclasses.replace(
            model_args, hidden_size=hidden_size, target_num_parameters=None
        )
    config = model_config(
        model_args,
        vocab_size,
        pad_token_id=pad_token_id,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
    )
    return AutoModelForCausalLM.from_config(config)


def _load_saved_model(folder: str, vocab_size: int) -> PreTrainedModel:
    path = Path(folder)
    if not (path / "config.json").is_file():
        problem = "has no config.json" if path.is_dir() else "does not exist"
        raise UserError(
            f"init_from: {folder!r} {problem}; point it at a saved model folder "
            "(a run's output_dir or checkpoint holding config.json and weights)"
        )
    model = AutoModelForCausalLM.from_pretrained(path)
    if model.config.vocab_size != vocab_size:
        raise UserError(
            f"init_from: {folder!r} has vocab_size {model.config.vocab_size} but this task's "
            f"vocabulary has {vocab_size} tokens; start from a model trained on the same vocabulary"
        )
    return model
