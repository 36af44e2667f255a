"""What the char-stream recipe hands the runner (the course's basic.py, nanoGPT style): random
windows of block_size characters from the training lines (keyed by --seed) and a fixed set of
validation windows (keyed by data_seed), the character tokenizer, and answer exact match on
held-out prompts beside its exact ceiling (docs/spec/char_streams.md), and the exact
per-character optimum on the validation windows (reference.py): reference_nll beside eval_loss."""

from __future__ import annotations

import numpy as np

from latent_lab.errors import UserError

POSITIONAL_MODELS = ("gpt2", "llama")  # models with a maximum input length
# Held-out prompts of one length are generated together, up to this many per call.
ANSWER_BATCH_SIZE = 64


def check_arguments(data_args, model_args, training_args):
    """Every mistake the arguments reveal, before any data or folder; returns the builder (the
    named config with this run's overrides, validated; no data generated yet)."""
    from latent_lab.tasks.char_stream.streams import make_stream

    if training_args.max_steps < 1:
        raise UserError("max_steps: char streams train for a number of steps; set max_steps >= 1")
    for name, minimum in (("block_size", 1), ("eval_num_windows", 1),
                          ("answer_eval_prompts", 0), ("num_report_samples", 0)):  # fmt: skip
        value = getattr(data_args, name)
        if value < minimum:
            raise UserError(f"{name}: must be >= {minimum}, got {value}")
    if model_args.model_type in POSITIONAL_MODELS and model_args.builds_model:
        if data_args.block_size > model_args.max_position_embeddings:
            raise UserError(
                f"max_position_embeddings: {model_args.max_position_embeddings} < block_size "
                f"{data_args.block_size}; set max_position_embeddings >= block_size"
            )
    builder = data_args.check()
    config = builder.config
    # A user stream's module is imported (or its template read) now, so its mistakes come first.
    make_stream(config.stream, config.stream_options, config.separator)
    return builder


def load_data(builder):
    """The DatasetDict (train and validation lines), generated or read from the cache."""
    from latent_lab.tasks.builders import prepare_dataset

    return prepare_dataset(builder)


def task_run(dataset, data_args, training_args, data_seed: int, shift_builders=None):
    """The TaskRun: windows, tokenizer, per-position records beside the exact per-character
    optimum (also for every eval shift), and answer exact match beside its exact ceiling."""
    from transformers import default_data_collator

    from latent_lab.tasks.char_stream import positions
    from latent_lab.tasks.char_stream.answer_accuracy import METRIC, answer_set
    from latent_lab.tasks.char_stream.tokenizer import tokenizer_from_dataset
    from latent_lab.training.generation_accuracy import GenerationAccuracyCallback
    from latent_lab.training.runner import TaskRun

    tokenizer = tokenizer_from_dataset(dataset)
    train_windows, eval_windows = windows(dataset, data_args, training_args, data_seed)
    prompts, answers, ceiling = held_out_answers(dataset, data_args.answer_eval_prompts)
    answers_scored = answer_set(prompts, answers, tokenizer)
    config = data_args.check().config  # the named config with this run's overrides
    metrics, optimum, missing = split_metrics(config, tokenizer, eval_windows)
    shifts, shift_reference = shift_splits(shift_builders or {}, data_args, tokenizer, data_seed)

    def make_answers_callback(trainer):
        return GenerationAccuracyCallback(
            trainer, tokenizer, [answers_scored], batch_size=ANSWER_BATCH_SIZE
        )

    def finalize(trainer):
        chosen = prompts[: data_args.num_report_samples]
        found = {"samples": samples(trainer, tokenizer, chosen, data_args.block_size)}
        return {**found, **({"reference_unavailable": missing} if missing else {})}

    return TaskRun(
        task="char_stream",
        train_dataset=train_windows,
        eval_dataset=eval_windows,
        vocab_size=len(tokenizer),
        tokenizer=tokenizer,
        data_collator=default_data_collator,
        compute_metrics=metrics,
        preprocess_logits_for_metrics=positions.preprocess_logits_for_metrics,
        metrics_need_inputs=True,
        eval_shifts=shifts,
        callback_factories=[make_answers_callback],
        reference={"best_answer_accuracy": ceiling, **optimum, **shift_reference},
        reference_for={METRIC: "best_answer_accuracy", **reference_names("eval", "")},
        baseline={**scored_baselines(metrics.reference, eval_windows), "no_answer_accuracy": 0.0},
        baseline_for={
            "eval_scored_loss": "unigram_loss",
            "eval_accuracy": "majority_accuracy",
            METRIC: "no_answer_accuracy",
        },
        special_token_ids={
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        finalize=finalize,
    )


def reference_names(prefix: str, name: str) -> dict:
    """Trainer metric -> its exact reference in results.json (`name`: a shift's, or '')."""
    short = f"{name}_" if name else ""
    return {
        f"{prefix}_scored_loss": f"{short}reference_nll",
        f"{prefix}_accuracy": f"{short}reference_accuracy",
    }


def split_metrics(config, tokenizer, split_windows):
    """(CharStreamMetrics, its scalar references, why there is none) for windows of a split."""
    import logging

    from latent_lab.tasks.char_stream.positions import CharStreamMetrics
    from latent_lab.tasks.char_stream.reference import (
        NoReference,
        config_reference,
        reference_scalars,
        vocabulary_of,
    )
    from latent_lab.tasks.char_stream.streams import make_stream

    vocabulary = vocabulary_of(tokenizer)
    separator = make_stream(config.stream, config.stream_options, config.separator).separator
    try:
        reference = config_reference(config, vocabulary)
    except NoReference:
        reference = None
    optimum, missing = reference_scalars(config, vocabulary, split_windows)
    if missing:
        logging.getLogger(__name__).warning("char_stream: no exact reference: %s", missing)
    return CharStreamMetrics(reference, vocabulary, separator), optimum, missing


def scored_baselines(reference, split_windows) -> dict:
    """unigram_loss and majority_accuracy of the characters the optimum scores (every predicted
    character when there is no optimum), beside scored_loss and accuracy."""
    from latent_lab.tasks.char_stream.reference import window_matrix
    from latent_lab.training.baselines import majority_accuracy, unigram_loss

    tokens = window_matrix(split_windows)
    targets = tokens[:, 1:]
    if reference is not None:
        targets = targets[~np.isnan(reference.score(tokens)[0])]
    targets = targets.ravel()
    return {"unigram_loss": unigram_loss(targets),
            "majority_accuracy": majority_accuracy(targets.tolist())}  # fmt: skip


def shift_splits(shift_builders: dict, data_args, tokenizer, data_seed: int):
    """({name: (validation windows, their metrics)}, the shifts' references): each shift's
    validation lines in the training tokenizer's ids (a character it lacks is an error)."""
    from latent_lab.tasks.char_stream.windows import RandomWindows

    shifts, reference = {}, {}
    vocabulary = tokenizer.get_vocab()
    for name, builder in shift_builders.items():
        split = load_data(builder)["validation"]
        text = "".join(split["text"])
        unknown = sorted(set(text) - set(vocabulary))
        if unknown:
            raise UserError(
                f"eval_shifts.{name}: characters {unknown} are not in the training "
                "vocabulary; the model cannot read them"
            )
        ids = np.asarray([vocabulary[c] for c in text], dtype=np.int64)
        size, count = data_args.block_size, data_args.eval_num_windows
        split_windows = RandomWindows(ids, size, count, data_seed)
        metrics, optimum, _ = split_metrics(builder.config, tokenizer, split_windows)
        shifts[name] = (split_windows, metrics)
        reference.update({f"{name}_{key}": value for key, value in optimum.items()})
    return shifts, reference


def windows(dataset, data_args, training_args, data_seed: int):
    """(train, validation) RandomWindows: as many training windows as the run takes, drawn by
    --seed; the same validation windows for every run on this data (drawn by data_seed)."""
    from latent_lab.tasks.char_stream.windows import RandomWindows, flat_tokens

    needed = (
        training_args.max_steps
        * training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * training_args.world_size
    )
    block_size = data_args.block_size
    train = RandomWindows(flat_tokens(dataset["train"]), block_size, needed, training_args.seed)
    validation = RandomWindows(
        flat_tokens(dataset["validation"]), block_size, data_args.eval_num_windows, data_seed
    )
    return train, validation


def held_out_answers(dataset, count: int):
    """(prompts, answers, best_answer_accuracy) of the first `count` validation lines; the
    ceiling counts every line of both splits (answers a prompt has anywhere in the data)."""
    from latent_lab.tasks.char_stream.answer_accuracy import best_answer_accuracy

    validation = dataset["validation"]
    held_out = validation.select(range(min(count, len(validation))))
    prompts, answers = held_out["prompt"], held_out["answer"]
    ceiling = best_answer_accuracy(
        prompts,
        [prompt for split in dataset.values() for prompt in split["prompt"]],
        [answer for split in dataset.values() for answer in split["answer"]],
    )
    return list(prompts), list(answers), ceiling


def samples(trainer, tokenizer, prompts, max_new_tokens: int) -> list[str]:
    """Greedy lines from the trained model for the first held-out prompts (results.json)."""
    from latent_lab.generation import generate_continuations

    chosen = ["\n" + prompt for prompt in prompts]
    model = trainer.accelerator.unwrap_model(trainer.model)
    completions = generate_continuations(
        model, tokenizer, chosen, max_new_tokens=max_new_tokens, stop="\n"
    )
    return [p.lstrip("\n") + c for p, c in zip(chosen, completions, strict=True)]
