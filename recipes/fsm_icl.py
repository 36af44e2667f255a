"""In-context learning of random FSMs (the seed's run_icl_*.py): train any model on one FSM
dataset, evaluate validation every epoch, keep the best model by validation accuracy, report
validation and test beside the exact Bayes-optimal accuracy.

python recipes/fsm_icl.py --config phase1_1 [--seed 1 --run_name phase1_1-run1]
python recipes/fsm_icl.py --dataset 3s3a --model_type lstm --hidden_size 64 --num_hidden_layers 2
python recipes/fsm_icl.py --config phase6_2 --init_from runs/fsm_icl/phase1_1-seed42
accelerate launch recipes/fsm_icl.py --config phase1_1
Curricula: recipes/fsm_curriculum.py. Every seed phase: recipes/configs/fsm_icl/README.md.

Data: any builder field (num_states, num_train, data_seed, ...) overrides the builder config
named by --dataset; --seed changes only the model's initialisation and the data order, so
every seed of a phase sees the same FSMs. latent_lab/tasks/fsm_icl/run.py says what the
Trainer gets.
"""

from latent_lab.tasks.fsm_icl.arguments import make_parser
from latent_lab.training.recipe import run_recipe


def main(data_args, model_args, training_args, config_path=None):
    from latent_lab.tasks.fsm_icl import run as fsm
    from latent_lab.training.runner import run_task

    ################
    # Check every argument before any data or folder is made
    ################
    builder = fsm.check_arguments(data_args, model_args, training_args)

    ################
    # Load datasets: train, validation and test FSMs with their exact references
    ################
    dataset = fsm.load_data(builder)

    ################
    # Exact references (and any eval shifts' splits with theirs), collator and metrics
    ################
    task_run = fsm.task_run(dataset, data_args.shift_builders())

    ################
    # Train (best model by validation accuracy), evaluate validation and test, save the model,
    # results.json and the report
    ################
    return run_task(task_run, model_args, training_args, config_path, data_args)


if __name__ == "__main__":
    run_recipe(make_parser(), main)
