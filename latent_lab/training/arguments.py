"""Training arguments shared by every recipe: HF TrainingArguments plus experiment bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments

from latent_lab.errors import UserError


@dataclass
class LabTrainingArguments(TrainingArguments):
    """TrainingArguments with run naming, W&B grouping and `--resume`."""

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

    def __post_init__(self):
        # Remember whether the user chose output_dir: TrainingArguments fills in a default.
        self.output_dir_given = self.output_dir is not None
        if self.max_steps == 0:
            raise UserError("max_steps: must be positive (or -1 to train for num_train_epochs)")
        if self.learning_rate <= 0:
            raise UserError(f"learning_rate: must be positive, got {self.learning_rate}")
        super().__post_init__()
