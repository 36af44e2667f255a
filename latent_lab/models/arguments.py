"""Flat model fields shared by every recipe, so the command line and grids override them like
any other key (`--model_type lstm --hidden_size 64`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from latent_lab.errors import UserError

MODEL_TYPES = ("gpt2", "llama", "lstm", "rnn")


@dataclass
class ModelArguments:
    model_type: str = field(default="gpt2", metadata={"help": "gpt2 | llama | lstm | rnn"})
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
    init_from: str | None = field(
        default=None,
        metadata={"help": "start from a finished run's saved model folder (ignores sizes above)"},
    )

    def __post_init__(self):
        if self.model_type not in MODEL_TYPES:
            raise UserError(
                f"model_type: unknown model {self.model_type!r}; "
                f"choose one of {', '.join(MODEL_TYPES)}"
            )
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.intermediate_size is not None and self.intermediate_size < 1:
            raise UserError(f"intermediate_size: must be >= 1, got {self.intermediate_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise UserError(f"dropout: must be in [0, 1), got {self.dropout}")
        if self.target_num_parameters is not None and self.target_num_parameters < 1:
            raise UserError("target_num_parameters: must be a positive integer")
