"""What the char-stream recipe hands the runner (the course's basic.py, nanoGPT style): random
windows of block_size characters from the training lines (keyed by --seed) and a fixed set of
validation windows (keyed by data_seed), the character tokenizer, and answer exact match on
held-out prompts beside its exact ceiling (docs/spec/char_streams.md), and the exact
per-character optimum on the validation windows (reference.py): reference_nll beside eval_loss."""

from __future__ import annotations

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
    if model_args.model_type in POSITIONAL_MODELS and model_args.init_from is None:
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
    builder.download_and_prepare()
    return builder.as_dataset()


def task_run(dataset, data_args, training_args, data_seed: int):
    """The TaskRun: windows, tokenizer, the answer_accuracy callback and its exact ceiling."""
    from transformers import default_data_collator

    from latent_lab.tasks.char_stream.answer_accuracy import METRIC, answer_set
    from latent_lab.tasks.char_stream.tokenizer import tokenizer_from_dataset
    from latent_lab.training.generation_accuracy import GenerationAccuracyCallback
    from latent_lab.training.runner import TaskRun

    tokenizer = tokenizer_from_dataset(dataset)
    train_windows, eval_windows = windows(dataset, data_args, training_args, data_seed)
    prompts, answers, ceiling = held_out_answers(dataset, data_args.answer_eval_prompts)
    answers_scored = answer_set(prompts, answers, tokenizer)
    optimum, missing = validation_reference(data_args, tokenizer, eval_windows)
    return TaskRun(
        task="char_stream",
        train_dataset=train_windows,
        eval_dataset=eval_windows,
        vocab_size=len(tokenizer),
        tokenizer=tokenizer,
        data_collator=default_data_collator,
        callback_factories=[lambda trainer: GenerationAccuracyCallback(
            trainer, tokenizer, [answers_scored], batch_size=ANSWER_BATCH_SIZE)],
        reference={"best_answer_accuracy": ceiling, **optimum},
        reference_for={METRIC: "best_answer_accuracy", "eval_loss": "reference_nll"},
        special_token_ids={
            "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id},
        finalize=lambda trainer: {"samples": samples(
            trainer, tokenizer, prompts[: data_args.num_report_samples], data_args.block_size),
            **({"reference_unavailable": missing} if missing else {})},
    )  # fmt: skip


def validation_reference(data_args, tokenizer, eval_windows) -> tuple[dict, str | None]:
    """reference_nll and reference_accuracy: the exact per-character optimum (reference.py)
    averaged over the validation windows' scored positions (those after a window's first
    newline). A stream without one (a module:function stream without a line_distribution
    hook, or too many lines) gets None and the reason, logged and kept in results.json."""
    import logging

    from latent_lab.tasks.char_stream.reference import reference_scalars, vocabulary_of

    config = data_args.check().config  # the named config with this run's overrides
    optimum, missing = reference_scalars(config, vocabulary_of(tokenizer), eval_windows)
    if missing:
        logging.getLogger(__name__).warning("char_stream: no exact reference: %s", missing)
    return optimum, missing


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
