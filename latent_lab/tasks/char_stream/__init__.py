"""Character streams (seed 003, the course assignment): lines `prompt + answer`, a small GPT
trained character by character, answers scored by exact match (docs/spec/char_streams.md).

streams.py (built-in streams, generation, splits), function_streams.py (`module:function`
streams) and templates.py (YAML-template streams); config.py (the data fields, validated);
tokenizer.py (character tokenizer); windows.py (nanoGPT-style batches); answer_accuracy.py (the
held-out answers scored by the shared generation callback, and their exact ceiling);
line_distribution.py and reference.py (the exact per-character optimum: every line of a stream
with its probability, and the trie over them that scores token windows);
arguments.py (the recipe's fields = the builder's); run.py (data and Trainer pieces);
nanogpt_export.py and commands.py (`latent-lab export nanogpt`); scaffold/ (the course's
experiment folder, `latent-lab init char_stream NAME`).
"""

from latent_lab.tasks.registry import Task

TASK = Task(
    name="char_stream",
    question="the course assignment: invent a character stream, train a small GPT, compare",
    builder="data_builders.char_stream:CharStreamBuilder",
    config_names=("insert_spaces", "count_by_twos", "translate"),
    field_names=("stream", "stream_options", "separator", "num_chars", "train_fraction",
                 "data_seed"),
    arguments="latent_lab.tasks.char_stream.arguments:CharStreamArguments",
    metrics="latent_lab.tasks.char_stream.answer_accuracy:answer_set",
    references=("best_answer_accuracy", "reference_nll", "reference_accuracy"),
    headline="eval_scored_loss",
    commands="latent_lab.tasks.char_stream.commands:add_parser",
    scaffold="latent_lab.tasks.char_stream.scaffold:write_scaffold",
)  # fmt: skip
