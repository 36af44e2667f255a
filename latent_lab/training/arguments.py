"""Training arguments shared by every recipe: HF TrainingArguments (or TRL's SFTConfig) plus
experiment bookkeeping."""

from __future__ import annotations

import dataclasses
import functools
import math
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
        # Every value and the output folder, before Trainer makes a folder or sees a batch.
        check_training_values(self)
        if self.output_dir_given:
            from latent_lab.files import check_output_path

            check_output_path(self.output_dir, "output_dir")
        if self.include_num_input_tokens_seen in ("no", False):
            # Training tokens (all processes) stamp every per-position record.
            self.include_num_input_tokens_seen = "non_padding"
        if not self.use_cpu and not _has_accelerator():
            # Without use_cpu, transformers ignores a torchrun/accelerate process group on a
            # CPU-only machine and every process trains alone (and writes results.json).
            self.use_cpu = True
            self.dataloader_pin_memory = False  # nothing to pin to
        super().__post_init__()


# Counts that must be at least 1 (Trainer would divide by them or build empty batches).
POSITIVE_COUNTS = ("per_device_train_batch_size", "per_device_eval_batch_size",
                   "gradient_accumulation_steps")  # fmt: skip
MAX_SEED = 2**32 - 1  # numpy's and transformers.set_seed's range


def check_training_values(args) -> None:
    """One-line UserErrors, naming the field, for values Trainer would only trip over later
    (NaN compares false with everything, so a NaN learning rate passed every `<= 0` check)."""
    for spec in dataclasses.fields(args):
        value = getattr(args, spec.name, None)
        if spec.init and isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{spec.name}: must be a finite number, got {value}")
    if args.max_steps == 0 or args.max_steps < -1:
        raise UserError(f"max_steps: must be positive (or -1 to train for num_train_epochs), "
                        f"got {args.max_steps}")  # fmt: skip
    if args.max_steps == -1 and args.num_train_epochs <= 0:
        raise UserError(f"num_train_epochs: must be > 0 (or set max_steps), got "
                        f"{args.num_train_epochs}")  # fmt: skip
    if args.learning_rate <= 0:
        raise UserError(f"learning_rate: must be positive, got {args.learning_rate}")
    for name in POSITIVE_COUNTS:
        if getattr(args, name) < 1:
            raise UserError(f"{name}: must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.seed <= MAX_SEED:
        raise UserError(f"seed: must be between 0 and {MAX_SEED}, got {args.seed}")
    if args.position_record_points < 0:
        raise UserError("position_record_points: must be >= 0")
    args.excess_thresholds = positive_numbers(args.excess_thresholds, "excess_thresholds")


def positive_numbers(values, name: str) -> list[float]:
    """A list of positive finite numbers; YAML reads 1e-2 (no dot) as text, so text converts."""
    if not isinstance(values, (list, tuple)):
        raise UserError(
            f"{name}: give a list of positive numbers, e.g. [0.1, 0.01]; got {values!r}"
        )
    numbers = []
    for value in values:
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise UserError(f"{name}: each must be a positive number, got {value!r}")
        numbers.append(number)
    return numbers


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
