"""Character streams (seed 003, the course assignment): lines `prompt + answer`, a small GPT
trained character by character, answers scored by exact match.

streams.py (built-in, module:function and YAML-template streams) and templates.py;
tokenizer.py (character tokenizer); windows.py (nanoGPT-style batches); answer_accuracy.py
(scoring); nanogpt_export.py and commands.py (`latent-lab export nanogpt`); scaffold/ (the
course's experiment folder, `latent-lab init char_stream NAME`); arguments.py; run.py.
"""

from latent_lab.tasks.registry import Task

TASK = Task(
    name="char_stream",
    question="the course assignment: invent a character stream, train a small GPT, compare",
    builder="data_builders.char_stream:CharStreamBuilder",
    config_names=("insert_spaces", "count_by_twos", "translate"),
    field_names=("stream", "stream_options", "separator", "num_chars", "train_fraction",
                 "seed"),
    arguments="latent_lab.tasks.char_stream.arguments:CharStreamArguments",
    metrics="latent_lab.tasks.char_stream.answer_accuracy:answer_accuracy",
    references=("best_answer_accuracy",),
    commands="latent_lab.tasks.char_stream.commands:add_parser",
    scaffold="latent_lab.tasks.char_stream.scaffold:write_scaffold",
)  # fmt: skip
