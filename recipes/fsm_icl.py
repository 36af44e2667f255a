"""In-context learning of random FSMs (the seed's run_icl_*.py): train any model on one FSM
dataset, evaluate validation every epoch, keep the best model by validation accuracy, report
validation and test beside the exact Bayes-optimal accuracy.

python recipes/fsm_icl.py --config phase1_1 [--seed 1 --run_name phase1_1-run1]
python recipes/fsm_icl.py --dataset 3s3a --model_type lstm --hidden_size 64 --num_hidden_layers 2
python recipes/fsm_icl.py --config phase6_2 --init_from runs/fsm_icl/phase1_1-seed42
Curricula: recipes/fsm_curriculum.py. Every seed phase: recipes/configs/fsm_icl/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from transformers.trainer_utils import IntervalStrategy, SaveStrategy

from latent_lab.config import LabParser, load_yaml, yaml_field
from latent_lab.errors import UserError
from latent_lab.models.arguments import ModelArguments
from latent_lab.training.arguments import LabTrainingArguments
from latent_lab.training.recipe import run_recipe

# Builder fields the command line may override directly (None: the builder config's value).
BUILDER_OVERRIDES = ("num_train", "num_validation", "num_test", "num_states", "num_actions",
                     "num_demos", "demo_length", "query_length")  # fmt: skip
# Metric -> the Bayes-optimal value of the same quantity (FSM metrics' names).
OPTIMAL_NAMES = {
    "accuracy": "bayes_accuracy",
    "accuracy_seen": "bayes_accuracy_seen",
    "accuracy_unseen": "bayes_accuracy_unseen",
    "scored_loss": "bayes_loss",
}
SPLIT_PREFIXES = {"validation": "eval", "test": "test"}  # Trainer's metric key prefixes


def _optional_int(help_text: str):
    return field(default=None, metadata={"help": help_text})


@dataclass
class FSMArguments:
    dataset: str = field(
        default="5s5a",
        metadata={"help": "builder config (3s3a, 5s5a, 5s8a, 8s8a, absorbing_5s5a) or a YAML "
                  "file of builder fields"},
    )  # fmt: skip
    num_train: int | None = _optional_int("training FSMs (builder default 6000)")
    num_validation: int | None = _optional_int("validation FSMs (builder default 2000)")
    num_test: int | None = _optional_int("test FSMs (builder default 2000)")
    num_states: int | None = _optional_int("states S (at most s_max)")
    num_actions: int | None = _optional_int("actions A (at most a_max)")
    num_demos: int | None = _optional_int("demonstration walks per episode")
    demo_length: int | None = _optional_int("demonstration steps (default A ln A)")
    query_length: int | None = _optional_int("query steps (default A ln A)")
    dataset_seed: int | None = field(
        default=None,
        metadata={"help": "seed of the FSMs and walks (builder default 0); --seed changes only "
                  "the model's initialisation and the data order"},
    )  # fmt: skip
    dataset_options: str | None = field(
        default=None,
        metadata={"help": "other builder fields, a YAML/JSON mapping, e.g. {absorbing: true}"},
    )

    def __post_init__(self):
        if isinstance(self.dataset_options, str):
            self.dataset_options = yaml_field(
                "dataset_options", self.dataset_options, "{absorbing: true}"
            )
        if self.dataset_options is not None and not isinstance(self.dataset_options, dict):
            raise UserError("dataset_options: expected a mapping such as {length_jitter: 0.1}")

    def builder_fields(self) -> dict:
        fields = dict(self.dataset_options or {})
        fields.update(
            {k: getattr(self, k) for k in BUILDER_OVERRIDES if getattr(self, k) is not None}
        )
        if self.dataset_seed is not None:
            fields["seed"] = self.dataset_seed
        return fields


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
    include_for_metrics: list[str] = field(default_factory=lambda: ["inputs"])


class FSMParser(LabParser):
    """LabParser that points a curriculum config (one with `stages`) at fsm_curriculum.py."""

    def _check_config_keys(self, path) -> None:
        if "stages" not in self.known_keys() and "stages" in load_yaml(path):
            raise UserError(
                f"{path}: a curriculum (it has stages); run it with "
                f"python recipes/fsm_curriculum.py --config {path}"
            )
        super()._check_config_keys(path)


def make_parser(*extra_argument_classes) -> LabParser:
    classes = (*extra_argument_classes, FSMArguments, ModelArguments, FSMTrainingArguments)
    return FSMParser(classes, "fsm_icl")


def main(data_args, model_args, training_args, config_path=None) -> dict | None:
    from latent_lab.training.runner import run_training

    if model_args.init_from is not None:
        from latent_lab.models.loading import check_model_dir

        check_model_dir(model_args.init_from, "init_from")  # before building any data
    run = make_task_run(data_args, training_args)
    return run_training(run, model_args, training_args, config_path, data_args)


def make_task_run(data_args, training_args):
    from latent_lab.tasks.builders import build_dataset
    from latent_lab.tasks.fsm_icl.generator import FSMVocab
    from latent_lab.tasks.fsm_icl.metrics import FSMCollator, FSMMetrics, trainer_metric_hooks
    from latent_lab.training.runner import TaskRun

    dataset = build_dataset("fsm_icl", data_args.dataset, **data_args.builder_fields())
    if "inputs" not in training_args.include_for_metrics:  # the metrics look up the tokens
        training_args.include_for_metrics = [*training_args.include_for_metrics, "inputs"]
    first = dataset["train"][0]
    vocab = FSMVocab(first["s_max"], first["a_max"])
    hooks = trainer_metric_hooks(dataset["validation"])
    # Test references too, so the final test evaluation looks them up instead of recomputing.
    hooks["compute_metrics"].references.update(FSMMetrics.from_dataset(dataset["test"]).references)
    reference, reference_for = exact_references(dataset)
    return TaskRun(
        task="fsm_icl",
        train_dataset=dataset["train"],
        eval_dataset=dataset["validation"],
        vocab_size=vocab.size,
        data_collator=FSMCollator(vocab.pad),
        reference=reference,
        reference_for=reference_for,
        special_token_ids={"pad_token_id": vocab.pad, "eos_token_id": vocab.eos},
        final_eval_datasets={"test": dataset["test"]},
        finalize=best_checkpoint_record,
        **hooks,
    )


def bayes_optimal(split) -> dict[str, float]:
    """The Bayes-optimal predictor's accuracy (all, seen, unseen positions) and cross-entropy
    on a split's scored positions, from the exact per-position references it stores."""
    labels, seen, correct_prob, true_prob = (
        np.concatenate([np.asarray(row) for row in split[column]])
        for column in ("labels", "seen_mask", "bayes_correct_prob", "bayes_true_prob")
    )
    scored = labels != -100
    seen, correct_prob, true_prob = seen[scored] != 0, correct_prob[scored], true_prob[scored]

    def mean(values) -> float:
        return float(values.mean()) if values.size else float("nan")

    with np.errstate(divide="ignore"):
        loss = mean(-np.log(true_prob))
    return {
        "bayes_accuracy": mean(correct_prob),
        "bayes_accuracy_seen": mean(correct_prob[seen]),
        "bayes_accuracy_unseen": mean(correct_prob[~seen]),
        "bayes_loss": loss,
    }


def exact_references(dataset) -> tuple[dict, dict]:
    """results.json `reference` (validation_bayes_accuracy, test_bayes_loss, ...) and
    `reference_for` (eval_accuracy -> validation_bayes_accuracy, ...)."""
    reference, reference_for = {}, {}
    for split, prefix in SPLIT_PREFIXES.items():
        optimal = bayes_optimal(dataset[split])
        for metric, optimal_name in OPTIMAL_NAMES.items():
            reference[f"{split}_{optimal_name}"] = optimal[optimal_name]
            reference_for[f"{prefix}_{metric}"] = f"{split}_{optimal_name}"
    return reference, reference_for


def best_checkpoint_record(trainer) -> dict:
    """Which evaluation won (the model saved in output_dir is that one when
    load_best_model_at_end is on)."""
    state = trainer.state
    checkpoint = state.best_model_checkpoint
    return {
        "best_step": state.best_global_step,
        "best_checkpoint": checkpoint.rsplit("/", 1)[-1] if checkpoint else None,
        "best_metric": {trainer.args.metric_for_best_model: state.best_metric},
        "saved_model_is_best": bool(trainer.args.load_best_model_at_end and checkpoint),
    }


if __name__ == "__main__":
    run_recipe(make_parser(), main)
