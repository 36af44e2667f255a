"""Train a small GPT on a character stream (the course's basic.py), then score answers.

python recipes/char_stream.py --config insert_spaces [--max_steps 200 ...]
accelerate launch recipes/char_stream.py --config insert_spaces.yaml
"""

from __future__ import annotations

from dataclasses import dataclass, field

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.streams import BUILTIN_STREAMS
from latent_lab.training.recipe import recipe_parser, run_recipe


@dataclass
class CharStreamArguments:
    stream: str = field(
        default="insert_spaces",
        metadata={"help": "built-in stream name, package.module:function, or a YAML template"},
    )
    stream_options: str | None = field(
        default=None, metadata={"help": "options of the stream, a YAML/JSON mapping"}
    )
    num_chars: int = field(default=1_200_000, metadata={"help": "characters of data to generate"})
    train_fraction: float = field(default=0.9, metadata={"help": "share of lines for training"})
    stream_seed: int = field(default=1337, metadata={"help": "seed of the generated data"})
    block_size: int = field(default=64, metadata={"help": "context length of training windows"})
    eval_num_windows: int = field(default=480, metadata={"help": "validation windows per eval"})
    answer_eval_prompts: int = field(
        default=200, metadata={"help": "held-out prompts scored by answer_accuracy"}
    )
    num_report_samples: int = field(default=5, metadata={"help": "samples kept in the report"})

    def __post_init__(self):
        import yaml

        if isinstance(self.stream_options, str):
            self.stream_options = yaml.safe_load(self.stream_options)
        if self.stream_options is not None and not isinstance(self.stream_options, dict):
            raise UserError("stream_options: expected a mapping such as {min_len: 1, max_len: 5}")
        for name in ("num_chars", "block_size", "eval_num_windows"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}: must be >= 1, got {getattr(self, name)}")

    def builder_fields(self) -> dict:
        fields = {
            "stream": self.stream,
            "num_chars": self.num_chars,
            "train_fraction": self.train_fraction,
            "seed": self.stream_seed,
        }
        if self.stream_options:
            fields["stream_options"] = self.stream_options
        return fields


def make_parser():
    return recipe_parser("char_stream", CharStreamArguments)


def main(data_args, model_args, training_args, config_path=None) -> dict | None:
    from transformers import default_data_collator

    from latent_lab.tasks.builders import build_dataset
    from latent_lab.tasks.char_stream.answer_accuracy import (
        AnswerAccuracyCallback,
        best_answer_accuracy,
    )
    from latent_lab.tasks.char_stream.tokenizer import tokenizer_from_dataset
    from latent_lab.tasks.char_stream.windows import RandomWindows, flat_tokens
    from latent_lab.training.runner import TaskRun, run_training

    if training_args.max_steps < 1:
        raise UserError("max_steps: char streams train for a number of steps; set max_steps >= 1")
    name = data_args.stream if data_args.stream in BUILTIN_STREAMS else None
    dataset = build_dataset("char_stream", name, **data_args.builder_fields())
    tokenizer = tokenizer_from_dataset(dataset)
    train_tokens = flat_tokens(dataset["train"])
    val_tokens = flat_tokens(dataset["validation"])
    windows_needed = (
        training_args.max_steps
        * training_args.per_device_train_batch_size
        * training_args.gradient_accumulation_steps
        * training_args.world_size
    )
    held_out = dataset["validation"].select(
        range(min(data_args.answer_eval_prompts, len(dataset["validation"])))
    )
    prompts, answers = held_out["prompt"], held_out["answer"]
    ceiling = best_answer_accuracy(
        prompts,
        [p for split in dataset.values() for p in split["prompt"]],
        [a for split in dataset.values() for a in split["answer"]],
    )
    run = TaskRun(
        task="char_stream",
        train_dataset=RandomWindows(
            train_tokens, data_args.block_size, windows_needed, seed=training_args.seed
        ),
        eval_dataset=RandomWindows(
            val_tokens, data_args.block_size, data_args.eval_num_windows, data_args.stream_seed
        ),
        vocab_size=len(tokenizer),
        tokenizer=tokenizer,
        data_collator=default_data_collator,
        callback_factories=[
            lambda trainer: AnswerAccuracyCallback(trainer, tokenizer, prompts, answers)
        ],
        reference={"best_answer_accuracy": ceiling},
        reference_for={"answer_accuracy": "best_answer_accuracy"},
        special_token_ids={
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        finalize=lambda trainer: {"samples": _samples(trainer, tokenizer, prompts, data_args)},
    )
    return run_training(run, model_args, training_args, config_path, data_args)


def _samples(trainer, tokenizer, prompts, data_args) -> list[str]:
    from latent_lab.generation import generate_continuations

    chosen = ["\n" + p for p in prompts[: data_args.num_report_samples]]
    model = trainer.accelerator.unwrap_model(trainer.model)
    completions = generate_continuations(
        model, tokenizer, chosen, max_new_tokens=data_args.block_size, stop="\n"
    )
    return [p.lstrip("\n") + c for p, c in zip(chosen, completions, strict=True)]


if __name__ == "__main__":
    run_recipe(make_parser(), main)
