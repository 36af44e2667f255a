"""What the FSM recipe hands the runner: the builder's splits, the exact Bayes-optimal
references of validation and test, the collator and metrics, and which checkpoint won.

Trainer evaluates validation every epoch and keeps the best model by validation accuracy
(FSMTrainingArguments); the runner then evaluates validation and test once more, so
results.json holds eval_* and test_* next to validation_bayes_* and test_bayes_*."""

from __future__ import annotations

import numpy as np

from latent_lab.errors import UserError

# Metric -> the Bayes-optimal value of the same quantity (FSM metrics' names).
OPTIMAL_NAMES = {
    "accuracy": "bayes_accuracy",
    "accuracy_seen": "bayes_accuracy_seen",
    "accuracy_unseen": "bayes_accuracy_unseen",
    "scored_loss": "bayes_loss",
}
SPLIT_PREFIXES = {"validation": "eval", "test": "test"}  # Trainer's metric key prefixes


def check_arguments(data_args, model_args, training_args):
    """Every mistake the arguments reveal, before any data or folder; returns the builder (the
    named config with this run's overrides, validated; no data generated yet)."""
    from latent_lab.files import check_model_dir

    if training_args.max_steps < -1:
        raise UserError(
            f"max_steps: must be >= 1 (or -1 to train for num_train_epochs), got "
            f"{training_args.max_steps}"
        )
    if model_args.init_from is not None:
        check_model_dir(model_args.init_from, "init_from")
    builder = data_args.check()
    for name, shifted in data_args.shift_builders().items():
        for field in ("s_max", "a_max"):
            if getattr(shifted.config, field) != getattr(builder.config, field):
                raise UserError(
                    f"eval_shifts.{name}: {field} changes the vocabulary, but the model reads "
                    f"the run's ({getattr(builder.config, field)}); shift num_states or "
                    "num_actions within it instead"
                )
    return builder


def load_data(builder):
    """The builder's DatasetDict (train, validation, test), generated or read from the cache."""
    from latent_lab.tasks.builders import prepare_dataset

    return prepare_dataset(builder)


def task_run(dataset, shift_builders=None):
    """The TaskRun: collator, metrics with the stored references, exact references of
    validation and test (and of every eval shift's validation split), and the best
    checkpoint's record."""
    from latent_lab.tasks.fsm_icl.generator import FSMVocab
    from latent_lab.tasks.fsm_icl.metrics import FSMCollator, FSMMetrics, trainer_metric_hooks
    from latent_lab.training.runner import TaskRun

    first = dataset["train"][0]
    vocab = FSMVocab(first["s_max"], first["a_max"])
    hooks = trainer_metric_hooks(dataset["validation"])
    # Test references too, so the final test evaluation looks them up instead of recomputing.
    hooks["compute_metrics"].references.update(FSMMetrics.from_dataset(dataset["test"]).references)
    reference, reference_for = exact_references(dataset)
    shifts = shift_splits(shift_builders or {}, reference, reference_for)
    baseline, baseline_for = chance_baselines(first["num_states"], reference_for)
    return TaskRun(
        task="fsm_icl",
        train_dataset=dataset["train"],
        eval_dataset=dataset["validation"],
        vocab_size=vocab.size,
        data_collator=FSMCollator(vocab.pad),
        metrics_need_inputs=True,  # the metrics look the sequences up in the stored references
        reference=reference,
        reference_for=reference_for,
        baseline=baseline,
        baseline_for=baseline_for,
        special_token_ids={"pad_token_id": vocab.pad, "eos_token_id": vocab.eos},
        final_eval_datasets={"test": dataset["test"]},
        eval_shifts=shifts,
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


def chance_baselines(num_states: int, reference_for: dict) -> tuple[dict, dict]:
    """A uniform guess among the S states: accuracy 1/S and loss ln S, for every accuracy and
    loss that has an exact reference."""
    import math

    baseline = {"chance_accuracy": 1 / num_states, "chance_loss": math.log(num_states)}
    baseline_for = {metric: "chance_loss" if metric.endswith("_loss") else "chance_accuracy"
                    for metric in reference_for}  # fmt: skip
    return baseline, baseline_for


def shift_splits(shift_builders: dict, reference: dict, reference_for: dict) -> dict:
    """{name: (its validation split, its own metrics)} for TaskRun.eval_shifts; adds each
    shift's exact references (<name>_bayes_accuracy, ...) to reference and reference_for."""
    from latent_lab.tasks.fsm_icl.metrics import FSMMetrics

    shifts = {}
    for name, builder in shift_builders.items():
        split = load_data(builder)["validation"]
        shifts[name] = (split, FSMMetrics.from_dataset(split))
        optimal = bayes_optimal(split)
        for metric, optimal_name in OPTIMAL_NAMES.items():
            reference[f"{name}_{optimal_name}"] = optimal[optimal_name]
            reference_for[f"eval_{name}_{metric}"] = f"{name}_{optimal_name}"
    return shifts


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
