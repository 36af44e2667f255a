"""Train a small GPT on a character stream (the course's basic.py, nanoGPT style), then score
its answers on held-out prompts by exact match beside the best achievable score.

python recipes/char_stream.py --config insert_spaces               # the course's basic.py
python recipes/char_stream.py --config debug                       # 200 steps first
python recipes/char_stream.py --config insert_spaces --stream_options '{max_len: 5}'
PYTHONPATH=. python recipes/char_stream.py --stream mymod:lines --separator '='
accelerate launch recipes/char_stream.py --config insert_spaces.yaml

Data: the stream's lines (prompt + separator + answer), generated from data_seed and split by
lines into train and validation. Training reads random windows of block_size characters (drawn
by --seed); every evaluation reports eval_loss on fixed validation windows and answer_accuracy
on held-out prompts, next to best_answer_accuracy; latent_lab/tasks/char_stream/run.py says how.
"""

from latent_lab.tasks.char_stream.arguments import make_parser
from latent_lab.training.recipe import run_recipe


def main(data_args, model_args, training_args, config_path=None):
    from latent_lab.tasks.char_stream import run as char_stream
    from latent_lab.training.runner import run_task

    ################
    # Check every argument before any data or folder is made
    ################
    builder = char_stream.check_arguments(data_args, model_args, training_args)

    ################
    # Load datasets: the stream's lines, split into train and validation
    ################
    dataset = char_stream.load_data(builder)

    ################
    # Windows, character tokenizer, held-out answers and their exact ceiling
    ################
    shifts = data_args.shift_builders()  # eval_shifts: more splits, each with its optimum
    task_run = char_stream.task_run(
        dataset, data_args, training_args, builder.config.data_seed, shifts
    )

    ################
    # Train, evaluate, save the model, results.json and the report
    ################
    return run_task(task_run, model_args, training_args, config_path, data_args)


if __name__ == "__main__":
    run_recipe(make_parser(), main)
