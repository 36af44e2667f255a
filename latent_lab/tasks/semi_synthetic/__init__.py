"""Semi-synthetic two-hop reasoning (seed 004): fine-tune on invented first-hop facts (person ->
real entity), then ask for the entity's attribute without and with chain of thought. `two_hop`
is the experiment's name (splits `2hop_*`, the plot); `semi_synthetic` is the task's.

tables/ (the shipped entity tables) and schema.py (their format); facts.py (people, pairings,
splits); config.py (the data fields, defined once); arguments.py (the recipe's fields = the
builder's, plus model, LoRA, world-knowledge and SFT fields); run.py (data, model and the
TaskRun the recipe hands the runner); sft.py (TRL SFT pieces: prompt/completion, accuracy sets,
loss advantage); world_knowledge.py (the self-contained stage that teaches a small model the
tables) and word_tokenizer.py; plot.py (per-type figure). Spec: docs/spec/two_hop.md.
"""

from latent_lab.tasks.registry import Task
from latent_lab.tasks.semi_synthetic.schema import TYPES

TASK = Task(
    name="semi_synthetic",
    question="does a fine-tuned model compose a new fact with one it knows, without CoT?",
    builder="data_builders.semi_synthetic:SemiSyntheticBuilder",
    config_names=TYPES,
    field_names=("type", "data_seed", "num_shuffles", "table_file"),
    arguments="latent_lab.tasks.semi_synthetic.arguments:SemiSyntheticArguments",
    metrics="latent_lab.training.generation_accuracy:generation_accuracies",
    references=("best_accuracy",),
    headline="acc_a",
)
