"""GSSM: graph-structured state-space data (seeds 000 and 001). A latent Markov state drives
the observed token; the exact forward filter gives the Bayes-optimal loss of every sequence.

graph.py (YAML graphs) -> model.py (kernels, GSSM) -> sampler.py (numba sampler) and filter.py
(exact forward filter); stream.py (on-the-fly data); metrics.py (excess loss, Trainer);
difficulty.py (equal-difficulty alpha pairs); commands.py (`latent-lab gssm ...`);
arguments.py (the recipe's fields = the builder's); run.py (data and Trainer pieces);
probes.py, probes_posterior.py (`latent-lab probe`: the exact per-node filter posterior).
"""

from pathlib import Path

from latent_lab.tasks.registry import Task

# The graphs shipped with the task (names usable as `graph:` and as builder configs).
GRAPHS_DIR = Path(__file__).resolve().parent / "graphs"

TASK = Task(
    name="gssm",
    question="does a transformer prefer latents that are easy to infer or easy to predict?",
    builder="data_builders.gssm:GSSMBuilder",
    config_names=("experiment1", "experiment1_small_Z", "experiment2_independent",
                  "experiment2_pairs", "experiment2_chain", "experiment2_dense"),
    field_names=("graph", "alpha_X", "alpha_Z", "num_train", "num_validation", "seq_len",
                 "graph_seed", "data_seed", "context"),
    arguments="latent_lab.tasks.gssm.arguments:GSSMArguments",
    metrics="latent_lab.tasks.gssm.metrics:GSSMMetrics",
    references=("bayes_loss", "bayes_accuracy"),
    headline="eval_loss",
    commands="latent_lab.tasks.gssm.commands:add_parser",
    probe_targets="latent_lab.tasks.gssm.probes:probe_targets",
)  # fmt: skip
