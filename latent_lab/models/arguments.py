"""Flat model fields shared by every recipe, so the command line and grids override them like
any other key (`--model_type mamba --hidden_size 64`, `--target_num_parameters 68000`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from latent_lab.errors import UserError
from latent_lab.models.architectures import TESTED_TYPES as MODEL_TYPES  # noqa: F401  re-exported


@dataclass
class ModelArguments:
    model_type: str = field(
        default="gpt2",
        metadata={"help": "lstm | rnn | gpt2 | llama | mamba | mamba2 | xlstm | qwen3_next, or "
                  "any other transformers causal LM type"},
    )  # fmt: skip
    hidden_size: int = field(default=128, metadata={"help": "width (n_embd for gpt2)"})
    num_hidden_layers: int = field(default=4, metadata={"help": "depth (stacked layers)"})
    num_attention_heads: int = field(default=4, metadata={"help": "transformers only"})
    intermediate_size: int | None = field(
        default=None, metadata={"help": "MLP width; default 4*hidden (gpt2), 8/3*hidden (llama)"}
    )
    max_position_embeddings: int = field(
        default=1024, metadata={"help": "longest sequence a transformer can read (block size)"}
    )
    dropout: float = field(default=0.0, metadata={"help": "dropout probability"})
    tie_word_embeddings: bool | None = field(
        default=None, metadata={"help": "share input and output embeddings; default per model"}
    )
    target_num_parameters: int | None = field(
        default=None,
        metadata={"help": "if set, solve hidden_size so the model has about this many parameters"},
    )
    target_state_size: int | None = field(
        default=None,
        metadata={"help": "if set, solve hidden_size so the model carries about this many floats "
                  "of recurrent state per sequence (recurrent, SSM and hybrid models)"},
    )  # fmt: skip
    model_options: str | None = field(
        default=None,
        metadata={"help": "other fields of the architecture's config, a YAML mapping, e.g. "
                  "'{state_size: 8, expand: 4}'"},
    )  # fmt: skip
    init_from: str | None = field(
        default=None,
        metadata={"help": "start from a finished run's saved model folder (ignores sizes above)"},
    )
    evaluate_model: str | None = field(
        default=None,
        metadata={"help": "no training: evaluate this model (a saved model folder or a Hub id) "
                  "on the task's evaluation splits (`latent-lab evaluate`)"},
    )  # fmt: skip

    def __post_init__(self):
        from latent_lab.config import yaml_field

        if isinstance(self.model_options, str):
            self.model_options = yaml_field("model_options", self.model_options, "{expand: 4}")
        if self.model_options is not None and not isinstance(self.model_options, dict):
            raise UserError("model_options: expected a mapping such as {state_size: 8}")
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.intermediate_size is not None and self.intermediate_size < 1:
            raise UserError(f"intermediate_size: must be >= 1, got {self.intermediate_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout: must be in [0, 1), got {self.dropout}")
        for name in ("target_num_parameters", "target_state_size"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise UserError(f"{name}: must be a positive integer")
        if self.target_num_parameters is not None and self.target_state_size is not None:
            raise UserError("target_state_size: give one of target_num_parameters and it")
        if self.init_from is not None and self.evaluate_model is not None:
            raise UserError("evaluate_model: evaluates a model as it is; remove init_from")
        if self.evaluate_model is not None:
            from latent_lab.files import check_model_dir, names_a_folder

            if names_a_folder(self.evaluate_model):  # a Hub id is checked when it is loaded
                check_model_dir(self.evaluate_model, "evaluate_model")
        if self.builds_model:
            self.check_buildable()

    @property
    def builds_model(self) -> bool:
        """The model fields make the model (no init_from or evaluate_model folder)."""
        return self.init_from is None and self.evaluate_model is None

    def check_buildable(self) -> None:
        """The type exists and is not refused, and a state-size target is reachable: one line
        now, before any data or folder (a parameter target needs the task's vocabulary)."""
        from latent_lab.models.factory import check_model_type

        check_model_type(self.model_type)
        if self.target_state_size is not None:
            from latent_lab.models.sizing import solve_for_state_size

            solve_for_state_size(self, 32, self.target_state_size)  # vocab plays no part
