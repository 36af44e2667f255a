"""The one place latent_lab builds models: flat ModelArguments -> an HF causal LM.

Any `model_type` that transformers registers for AutoModelForCausalLM builds, plus the
project's lstm and rnn. The architectures latent_lab has checked (architectures.py: gpt2,
llama, lstm, rnn, mamba, mamba2, xlstm, qwen3_next) get small-model fields that follow
hidden_size; any other type gets the usual fields its config has, at small-model values.
`model_options` sets any other config field. `init_from` loads a finished run's saved model;
`target_num_parameters` / `target_state_size` solve the width (sizing.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.models.architectures import ARCHITECTURES, REFUSED, TESTED_TYPES
from latent_lab.models.arguments import ModelArguments

__all__ = ["build_model", "check_model_type", "hidden_size_multiple", "model_config"]
logger = logging.getLogger(__name__)


def causal_lm_types() -> set[str]:
    """Every model_type with an AutoModelForCausalLM class, ours included."""
    # A transformers module path (not its top level), used behind pyproject's transformers<6
    # bound; tests/test_zoo.py fails if it moves.
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) | {"lstm", "rnn"}


def check_model_type(model_type: str) -> None:
    """One line for a type that cannot be built or is known to generate wrongly."""
    import transformers

    if model_type in REFUSED:
        raise UserError(
            f"model_type: {model_type!r} is refused on transformers {transformers.__version__}: "
            f"{REFUSED[model_type]}; choose another type (tested: {', '.join(TESTED_TYPES)})"
        )
    if model_type not in causal_lm_types():
        raise UserError(
            f"model_type: unknown {model_type!r}; tested: {', '.join(TESTED_TYPES)}; any other "
            "type of transformers' AutoModelForCausalLM works too (its list: "
            "transformers.models.auto.modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)"
        )


def hidden_size_multiple(model_args: ModelArguments) -> int:
    """hidden_size must be a multiple of this (heads split it, RoPE needs even head dims...)."""
    architecture = ARCHITECTURES.get(model_args.model_type)
    return architecture.width_multiple(model_args) if architecture else 1


def _check_width(model_args: ModelArguments) -> None:
    multiple = hidden_size_multiple(model_args)
    if model_args.hidden_size % multiple:
        nearest = max(multiple, model_args.hidden_size // multiple * multiple)
        raise UserError(
            f"hidden_size: {model_args.hidden_size} is not a multiple of {multiple}, which "
            f"{model_args.model_type} needs (heads and head dims); choose e.g. {nearest}"
        )


def _generic_fields(model_args: ModelArguments, config_class) -> dict:
    """Small-model values for the fields this config has (its defaults are often billions)."""
    width, heads = model_args.hidden_size, model_args.num_attention_heads
    wanted = {
        "hidden_size": width,
        "num_hidden_layers": model_args.num_hidden_layers,
        "num_attention_heads": heads,
        "num_key_value_heads": heads,
        "head_dim": width // heads,
        "intermediate_size": model_args.intermediate_size or 4 * width,
        "max_position_embeddings": model_args.max_position_embeddings,
    }
    defaults = config_class()
    return {name: value for name, value in wanted.items() if hasattr(defaults, name)}


def _check_options(model_type: str, config_class, options: dict) -> None:
    defaults = config_class()
    unknown = sorted(name for name in options if not hasattr(defaults, name))
    if unknown:
        raise UserError(
            f"model_options: {unknown[0]!r} is not a field of {model_type}'s config "
            f"({config_class.__name__}); fix the spelling"
        )


def model_config(model_args: ModelArguments, vocab_size: int, *, pad_token_id=None,
                 bos_token_id=None, eos_token_id=None):  # fmt: skip
    """The HF config for `model_args` as given (no init_from, no size solving)."""
    from transformers import AutoConfig

    import latent_lab.models  # noqa: F401  registers lstm and rnn

    model_type = model_args.model_type
    check_model_type(model_type)
    config_class = type(AutoConfig.for_model(model_type))
    architecture = ARCHITECTURES.get(model_type)
    if architecture:
        _check_width(model_args)
        fields = architecture.fields(model_args)
        tie = architecture.ties_by_default
    else:
        logger.warning("model_type %r is not among latent_lab's tested types", model_type)
        fields, tie = _generic_fields(model_args, config_class), None
    if model_args.tie_word_embeddings is not None:
        tie = model_args.tie_word_embeddings
    if tie is not None:
        fields["tie_word_embeddings"] = tie
    options = model_args.model_options or {}
    _check_options(model_type, config_class, options)
    # Always pass the task's token ids: defaults (e.g. GPT-2's 50256) lie outside our vocab.
    token_ids = dict(
        pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id
    )
    fields = {**token_ids, **fields, **options}  # the user's options win over our defaults
    return AutoConfig.for_model(model_type, vocab_size=vocab_size, **fields)


def build_model(model_args: ModelArguments, vocab_size: int, **token_ids):
    """A freshly initialised model (torch's global RNG: seed first), or `init_from`'s model.
    token_ids: pad_token_id, bos_token_id, eos_token_id of the task's vocabulary."""
    from transformers import AutoModelForCausalLM

    from latent_lab.models.sizing import solve_size

    if model_args.init_from is not None:
        return _load_saved_model(model_args.init_from, vocab_size)
    if model_args.evaluate_model is not None:
        return load_model_to_evaluate(model_args.evaluate_model, vocab_size)
    model_args = solve_size(model_args, vocab_size)
    return AutoModelForCausalLM.from_config(model_config(model_args, vocab_size, **token_ids))


def _load_saved_model(folder: str, vocab_size: int):
    from transformers import AutoModelForCausalLM

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


def load_model_to_evaluate(name: str, vocab_size: int):
    """A saved model folder, or a Hub id (read from the Hub or its local cache); one line for
    a folder without a model, an id the Hub does not have, or another vocabulary."""
    from transformers import AutoModelForCausalLM

    import latent_lab.models  # noqa: F401  registers lstm and rnn
    from latent_lab.files import check_model_dir, names_a_folder

    source = check_model_dir(name, "evaluate_model") if names_a_folder(name) else name
    try:
        model = AutoModelForCausalLM.from_pretrained(source)
    except OSError as error:  # not on the Hub, offline without a cached copy, gated
        reason = str(error).strip().splitlines()[0]
        raise UserError(
            f"evaluate_model: cannot load {name!r} ({reason}); give a saved model folder or a "
            "Hub id you can reach"
        ) from error
    if model.config.vocab_size != vocab_size:
        raise UserError(
            f"evaluate_model: {name!r} has vocab_size {model.config.vocab_size} but this task's "
            f"vocabulary has {vocab_size} tokens; evaluate a model trained on this task"
        )
    return model


def state_size(config) -> int | None:
    """Floats of recurrent state per sequence (architectures.py's formula); None for models
    with no recurrent state, or for types latent_lab has no formula for."""
    architecture = ARCHITECTURES.get(config.model_type)
    if architecture is None or architecture.state_size is None:
        return None
    return architecture.state_size(config)
