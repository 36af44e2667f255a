"""FSM in-context learning (seed 002): demonstrations of a fresh random finite state machine,
then a query walk whose next states are scored against the exact Bayes-optimal posterior.

generator.py (FSMs, walks, tokens) -> reference.py (exact posterior per position);
config.py (the data fields, validated); metrics.py (accuracy seen/unseen, collator);
arguments.py (the recipe's fields = the builder's); run.py (data and Trainer pieces);
curriculum.py (stages, each from the previous stage's model; recipes/fsm_curriculum.py);
probes.py, probes_data.py (`latent-lab probe` targets: states, seen, exact posterior).
"""

from latent_lab.tasks.registry import Task

TASK = Task(
    name="fsm_icl",
    question="can an LSTM learn finite state machines in context as well as a transformer?",
    builder="data_builders.fsm_icl:FSMBuilder",
    config_names=("5s5a", "3s3a", "5s8a", "8s8a", "absorbing_5s5a"),
    field_names=("num_states", "num_actions", "absorbing", "num_demos", "demo_length",
                 "query_length", "length_jitter", "score_demonstrations", "num_train",
                 "num_validation", "num_test", "data_seed", "s_max", "a_max"),
    arguments="latent_lab.tasks.fsm_icl.arguments:FSMArguments",
    metrics="latent_lab.tasks.fsm_icl.metrics:FSMMetrics",
    references=("bayes_accuracy", "bayes_accuracy_seen", "bayes_accuracy_unseen", "bayes_loss"),
    headline="eval_accuracy",
    recipes={"fsm_icl": "latent_lab.tasks.fsm_icl.arguments:make_parser",
             "fsm_curriculum": "latent_lab.tasks.fsm_icl.curriculum:make_parser"},
    probe_targets="latent_lab.tasks.fsm_icl.probes:probe_targets",
)  # fmt: skip
