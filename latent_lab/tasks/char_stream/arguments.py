"""The char-stream recipe's arguments: the data fields (derived from the builder config) plus
what the recipe does with the data (windows, held-out answers, samples). Model and training
fields are the shared ones; recipes/configs/char_stream/*.yaml hold the course's values."""

from __future__ import annotations

from dataclasses import field

from latent_lab.tasks.char_stream.config import CharStreamDataConfig
from latent_lab.tasks.data_arguments import data_arguments


def _recipe_field(name: str, default: int, help_text: str):
    return (name, int, field(default=default, metadata={"help": help_text}))


CharStreamArguments = data_arguments(
    "CharStreamArguments",
    CharStreamDataConfig,
    "insert_spaces",
    task="char_stream",
    doc="The char_stream builder's fields (any of them overrides the config named by `dataset`; "
    "stream_options is YAML text such as '{max_len: 5}'), plus the recipe's: block_size, "
    "eval_num_windows, answer_eval_prompts and num_report_samples.",
    recipe_fields=[
        _recipe_field("block_size", 64, "context length of the training windows, in characters"),
        _recipe_field("eval_num_windows", 480, "validation windows per evaluation"),
        _recipe_field("answer_eval_prompts", 200, "held-out prompts scored by answer_accuracy"),
        _recipe_field("num_report_samples", 5, "sample lines kept in results.json and the report"),
    ],
)


def make_parser():
    """Shared by recipes/char_stream.py and everything that reads its fields (launch, the CLI)."""
    from latent_lab.config import LabParser
    from latent_lab.models.arguments import ModelArguments
    from latent_lab.training.arguments import LabTrainingArguments

    return LabParser((CharStreamArguments, ModelArguments, LabTrainingArguments), "char_stream")
