"""Semi-synthetic two-hop reasoning (seed 004): fine-tune on invented first-hop facts (person ->
real entity), then ask for the entity's attribute without and with chain of thought.

tables/ (the shipped entity tables) and schema.py; facts.py (people, pairings, splits);
sft.py (TRL SFT pieces, loss advantage); world_knowledge.py (the self-contained stage that
teaches a small model the tables) and word_tokenizer.py; plot.py (per-type figure);
arguments.py; run.py.
"""

from latent_lab.tasks.registry import Task
from latent_lab.tasks.semi_synthetic.schema import TYPES

TASK = Task(
    name="semi_synthetic",
    question="does a fine-tuned model compose a new fact with one it knows, without CoT?",
    builder="data_builders.semi_synthetic:SemiSyntheticBuilder",
    config_names=TYPES,
    field_names=("type", "seed", "num_shuffles"),
    arguments="latent_lab.tasks.semi_synthetic.arguments:SemiSyntheticArguments",
    metrics="latent_lab.training.generation_accuracy:generation_accuracies",
    references=("best_accuracy", "loss_advantage_without_link"),
)
