"""The FSM recipe's arguments: the data fields (derived from the builder config), the shared
model fields, and the seed's training loop as defaults."""

from __future__ import annotations

from dataclasses import dataclass

from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from latent_lab.models.arguments import ModelArguments
from latent_lab.tasks.data_arguments import data_arguments
from latent_lab.tasks.fsm_icl.config import FSMDataConfig
from latent_lab.training.arguments import LabTrainingArguments

FSMArguments = data_arguments(
    "FSMArguments",
    FSMDataConfig,
    "5s5a",
    task="fsm_icl",
    doc="The fsm_icl builder's fields (any of them overrides the config named by `dataset`: "
    "3s3a, 5s5a, 5s8a, 8s8a, absorbing_5s5a, or a YAML file of builder fields). data_seed "
    "draws other FSMs; --seed changes only the model's initialisation and the data order.",
)


@dataclass
class FSMTrainingArguments(LabTrainingArguments):
    """The seed's training loop as defaults: batch 8, evaluate and save every epoch, keep the
    model with the best validation accuracy (that is the one saved in output_dir)."""

    per_device_train_batch_size: int = 8
    per_device_eval_batch_size: int = 256  # evaluation only: larger is faster, same numbers
    learning_rate: float = 1e-3
    eval_strategy: IntervalStrategy | str = "epoch"
    save_strategy: SaveStrategy | str = "epoch"
    save_total_limit: int | None = 1  # Trainer keeps the best checkpoint besides the last
    load_best_model_at_end: bool = True
    metric_for_best_model: str | None = "accuracy"
    logging_steps: float = 50


def argument_classes() -> tuple[type, ...]:
    """(data, model, training) argument classes of one fsm_icl run (a curriculum stage too)."""
    return FSMArguments, ModelArguments, FSMTrainingArguments


def make_parser():
    """Shared by recipes/fsm_icl.py and everything that reads its fields (launch, the CLI)."""
    from latent_lab.config import LabParser

    return LabParser(argument_classes(), "fsm_icl")


def recorded_data_arguments(config: dict):
    """The FSMArguments of a finished run, from its results.json `config`. Runs recorded before
    the seed naming (`dataset_seed`, and `dataset_options` for other builder fields, its `seed`
    the data seed) give the same builder fields under today's names."""
    import dataclasses

    names = {spec.name for spec in dataclasses.fields(FSMArguments)}
    values = dict(config.get("dataset_options") or {})
    if "seed" in values:
        values["data_seed"] = values.pop("seed")
    values.update((k, v) for k, v in config.items() if k in names and v is not None)
    if config.get("dataset_seed") is not None:
        values["data_seed"] = config["dataset_seed"]
    return FSMArguments(**values)
