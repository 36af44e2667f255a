"""A curriculum of FSM datasets (the seed's phase 6): stages trained one after another, each
starting from the previous stage's saved (best) model. Every stage is a normal fsm_icl run
folder (results.json, model, report) under the curriculum's output_dir; the curriculum's own
results.json summarizes the stages and carries the final stage's metrics.

python recipes/fsm_curriculum.py --config phase6_1 [--seed 1 --run_name phase6_1-run1]

Configs live in recipes/configs/fsm_curriculum/: fsm_icl fields shared by every stage plus
`stages`, a list of mappings of fields for that stage only (e.g. {dataset: 3s3a,
num_train_epochs: 16}). Precedence: a stage's own keys > the command line > the shared YAML
keys > defaults. latent_lab/tasks/fsm_icl/curriculum.py says how.
"""

from latent_lab.tasks.fsm_icl.curriculum import make_parser
from latent_lab.training.recipe import run_recipe


def main(curriculum_args, data_args, model_args, training_args, config_path=None):
    from latent_lab.tasks.fsm_icl import curriculum

    ################
    # Check every stage's arguments (and one vocabulary for all) before any data or folder
    ################
    plan = curriculum.plan_curriculum(
        curriculum_args, data_args, model_args, training_args, config_path
    )

    ################
    # Train the stages in order, each from the previous stage's saved (best) model
    ################
    records = curriculum.run_stages(plan, config_path)

    ################
    # The curriculum's results.json: the stages and the final stage's metrics
    ################
    return curriculum.write_summary(plan, records, training_args)


if __name__ == "__main__":
    run_recipe(make_parser(), main)
