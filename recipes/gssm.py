"""Train a causal LM on graph-structured state-space data and report its loss beside the
exact Bayes-optimal loss of the same sequences (excess_loss = eval_loss - bayes_loss).

python recipes/gssm.py --config experiment1/onfly_small_X        # fresh data every step
python recipes/gssm.py --config experiment1/small_X              # a fixed, finite dataset
python recipes/gssm.py --graph experiment2_chain --alpha_Z 0.25 --onfly true --max_steps 200
accelerate launch recipes/gssm.py --config experiment1/onfly_small_X
Every seed step and how to read the results: recipes/configs/gssm/README.md.

Data: onfly=false trains on the builder's train split (num_train sequences); onfly=true on
fresh sequences from the same fixed kernels at every step (keyed by data_seed and --seed). Both
evaluate on the builder's validation split (the same tokens in both modes) with its exact
reference; latent_lab/tasks/gssm/run.py says how.
"""

from latent_lab.tasks.gssm.arguments import make_parser
from latent_lab.training.recipe import run_recipe


def main(data_args, model_args, training_args, config_path=None):
    from latent_lab.tasks.gssm import run as gssm
    from latent_lab.training.runner import run_task

    ################
    # Check every argument before any data or folder is made
    ################
    builder = gssm.check_arguments(data_args, model_args, training_args)

    ################
    # Load datasets: the graph's kernels, training data, validation split
    ################
    model, train_data, validation = gssm.load_data(
        builder, data_args.onfly, training_args.seed, training_args.per_device_train_batch_size
    )

    ################
    # Exact references (validation and any eval shifts), collator and metrics for the Trainer
    ################
    shifts = data_args.shift_builders()  # eval_shifts: more splits, each with its reference
    task_run = gssm.task_run(model, train_data, validation, builder.config.context, shifts)

    ################
    # Train, evaluate, save the model, results.json and the report
    ################
    return run_task(task_run, model_args, training_args, config_path, data_args)


if __name__ == "__main__":
    run_recipe(make_parser(), main)
