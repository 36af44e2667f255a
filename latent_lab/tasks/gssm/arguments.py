"""The GSSM recipe's arguments: the data fields (derived from the builder config, plus
`onfly`), the spec's default model, and the seeds' training loop as defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers.trainer_utils import IntervalStrategy, SchedulerType

from latent_lab.models.arguments import ModelArguments
from latent_lab.tasks.data_arguments import data_arguments
from latent_lab.tasks.gssm.config import GSSMDataConfig
from latent_lab.training.arguments import LabTrainingArguments

GSSMArguments = data_arguments(
    "GSSMArguments",
    GSSMDataConfig,
    "experiment1",
    task="gssm",
    doc="The gssm builder's fields (any of them overrides the config named by `dataset`), plus "
    "onfly: train on fresh sequences at every step instead of the finite train split.",
    recipe_fields=[("onfly", bool, field(default=False, metadata={"help": "fresh sequences "
                    "from the same kernels at every step (the seeds' infinite data)"}))],
)  # fmt: skip


@dataclass
class GSSMModelArguments(ModelArguments):
    """The spec's default model: Llama (RoPE, SwiGLU, RMSNorm, no bias), hidden 64, 4 layers,
    4 heads; room for the seeds' 2048 tokens plus BOS."""

    model_type: str = field(default="llama", metadata={"help": "any factory model type"})
    hidden_size: int = field(default=64, metadata={"help": "width"})
    max_position_embeddings: int = field(default=2049, metadata={"help": ">= seq_len + 1"})


@dataclass
class GSSMTrainingArguments(LabTrainingArguments):
    """The seeds' on-the-fly runs: batch 16, lr 1e-2, constant schedule, 1000 steps."""

    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 16
    learning_rate: float = 1e-2
    lr_scheduler_type: SchedulerType | str = "constant"
    max_steps: int = 1000
    eval_strategy: IntervalStrategy | str = "steps"
    eval_steps: float | None = 100
    logging_steps: float = 10


def make_parser():
    """Shared by recipes/gssm.py and everything that reads its fields (launch, the CLI)."""
    from latent_lab.config import LabParser

    return LabParser((GSSMArguments, GSSMModelArguments, GSSMTrainingArguments), "gssm")
