"""Training arguments shared by every recipe: HF TrainingArguments (or TRL's SFTConfig) plus
experiment bookkeeping."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from transformers import TrainingArguments

from latent_lab.errors import UserError


@dataclass
class LabArgumentsMixin:
    """Run naming, W&B grouping and `--resume`, on top of any HF training-arguments class."""

    config_name: str | None = field(
        default=None,
        metadata={"help": "name results.json records (default: the config file's name)"},
    )
    experiment: str | None = field(
        default=None,
        metadata={
            "help": "runs/<experiment>/<run_name> when output_dir is not given (default: task)"
        },
    )
    wandb_project: str | None = field(
        default=None, metadata={"help": "W&B project (default: WANDB_PROJECT or 'latent_lab')"}
    )
    wandb_group: str | None = field(
        default=None,
        metadata={"help": "W&B group (default: WANDB_RUN_GROUP or the config path)"},
    )
    wandb_tags: str | None = field(
        default=None, metadata={"help": "comma-separated W&B tags (default: WANDB_TAGS)"}
    )
    resume: bool = field(
        default=False, metadata={"help": "continue from the last checkpoint in output_dir"}
    )
    position_record_points: int = field(
        default=8,
        metadata={"help": "extra evaluations at this many log-spaced steps, so the per-position "
                  "records (positions.parquet) resolve early learning; 0 for none"},
    )  # fmt: skip
    excess_thresholds: list[float] = field(
        default_factory=lambda: [0.1, 0.02],
        metadata={"help": "eps of train_tokens_to_excess_below_<eps> (nats per token)"},
    )
    # One seed naming everywhere: `seed` (model initialisation and data order) and a task's own
    # `data_seed` (the dataset). Trainer's data_seed would take the second name, so it is not a
    # command-line field here; left None, Trainer orders the data by `seed`.
    data_seed: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self):
        # Remember whether the user chose output_dir: the HF class fills in a default.
        self.output_dir_given = self.output_dir is not None
        if self.max_steps == 0 or self.max_steps < -1:
            raise UserError(
                f"max_steps: must be positive (or -1 to train for num_train_epochs), "
                f"got {self.max_steps}"
            )
        if self.include_num_input_tokens_seen in ("no", False):
            # Training tokens (all processes) stamp every per-position record.
            self.include_num_input_tokens_seen = "non_padding"
        if self.position_record_points < 0:
            raise UserError("position_record_points: must be >= 0")
        if self.learning_rate <= 0:
            raise UserError(f"learning_rate: must be positive, got {self.learning_rate}")
        if not self.use_cpu and not _has_accelerator():
            # Without use_cpu, transformers ignores a torchrun/accelerate process group on a
            # CPU-only machine and every process trains alone (and writes results.json).
            self.use_cpu = True
            self.dataloader_pin_memory = False  # nothing to pin to
        super().__post_init__()


def _has_accelerator() -> bool:
    import torch

    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None:
        return accelerator.is_available()
    return torch.cuda.is_available()


@dataclass
class LabTrainingArguments(LabArgumentsMixin, TrainingArguments):
    """TrainingArguments with the lab's bookkeeping fields."""


@functools.cache
def lab_sft_config_class():
    """TRL's SFTConfig with the lab's bookkeeping fields (built lazily: importing trl is slow)."""
    from trl import SFTConfig

    @dataclass
    class LabSFTConfig(LabArgumentsMixin, SFTConfig):
        """SFTConfig with the lab's bookkeeping fields."""

    return LabSFTConfig
