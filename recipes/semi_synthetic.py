"""Semi-synthetic two-hop reasoning: fine-tune on first-hop facts (invented person -> real e2),
then ask for an attribute of e2 without and with chain of thought.

accelerate launch --config_file recipes/accelerate/ddp.yaml recipes/semi_synthetic.py \
    --config parks.yaml --seed 1                      # an 8B instruct model (GPUs, the Hub)
python recipes/semi_synthetic.py --config self_contained   # a small model from scratch (CPU)
python recipes/semi_synthetic.py --config parks --model_name_or_path RUN_DIR --eval_only true
"""

from __future__ import annotations

from dataclasses import dataclass, field

from latent_lab.config import LabParser
from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic.facts import TYPES
from latent_lab.training.recipe import run_recipe


@dataclass
class SemiSyntheticArguments:
    type: str = field(default="parks", metadata={"help": f"e2 type: {', '.join(TYPES)}"})
    pairing_seed: int | None = field(
        default=None, metadata={"help": "seed pairing people with entities (default: the type's)"}
    )
    num_shuffles: int = field(default=5, metadata={"help": "permutations of shuffled answers"})
    table_file: str | None = field(
        default=None, metadata={"help": "your own JSON table of this type (the shipped schema)"}
    )
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "Hub name or local folder of an instruct model"}
    )
    dtype: str = field(default="auto", metadata={"help": "weights dtype: auto | bfloat16 | ..."})
    eval_only: bool = field(
        default=False, metadata={"help": "evaluate model_name_or_path on every split, no training"}
    )
    generation_batch_size: int = field(default=16, metadata={"help": "prompts per generate call"})
    max_new_tokens: int = field(default=50, metadata={"help": "answer budget without CoT"})
    cot_max_new_tokens: int = field(default=200, metadata={"help": "answer budget with CoT"})

    def __post_init__(self):
        if self.type not in TYPES:
            raise UserError(
                f"type: unknown e2 type {self.type!r}; choose one of {', '.join(TYPES)}"
            )
        for name in ("num_shuffles", "generation_batch_size", "max_new_tokens",
                     "cot_max_new_tokens"):  # fmt: skip
            if getattr(self, name) < 1:
                raise UserError(f"{name}: must be >= 1, got {getattr(self, name)}")


def make_parser() -> LabParser:
    from latent_lab.models.arguments import ModelArguments
    from latent_lab.tasks.semi_synthetic.sft import LoraArguments, TwoHopSFTConfig
    from latent_lab.tasks.semi_synthetic.world_knowledge import WorldKnowledgeArguments

    return LabParser(
        (
            SemiSyntheticArguments,
            WorldKnowledgeArguments,
            LoraArguments,
            ModelArguments,
            TwoHopSFTConfig,
        ),
        "semi_synthetic",
    )


def check_model_source(task_args, knowledge_args) -> None:
    if knowledge_args.world_knowledge and task_args.model_name_or_path:
        raise UserError(
            "model_name_or_path: world_knowledge trains its own model from scratch; "
            "remove one of them"
        )
    if not knowledge_args.world_knowledge and not task_args.model_name_or_path:
        raise UserError(
            "model_name_or_path: missing; name a Hub model or a local folder, "
            "or set world_knowledge: true to train a small model from scratch"
        )
    if task_args.eval_only and knowledge_args.world_knowledge:
        raise UserError("eval_only: evaluates model_name_or_path; set world_knowledge: false")
    if task_args.table_file and knowledge_args.world_knowledge:
        raise UserError("table_file: world_knowledge teaches the shipped tables; use one of them")


def main(task_args, knowledge_args, lora_args, model_args, training_args, config_path=None):
    from latent_lab.config import config_name_of
    from latent_lab.tasks.semi_synthetic import sft
    from latent_lab.tasks.semi_synthetic.world_knowledge import recall_set, train_world_knowledge
    from latent_lab.training.runner import prepare_output_dir, run_training
    from latent_lab.training.tracking import config_label

    check_model_source(task_args, knowledge_args)
    if knowledge_args.world_knowledge and model_args.model_type in ("lstm", "rnn"):
        raise UserError(
            f"model_type: world_knowledge needs a transformer (llama or gpt2), got "
            f"{model_args.model_type!r}: chat prompts are scored in left-padded batches"
        )
    splits = sft.two_hop_splits(
        task_args.type, task_args.pairing_seed, task_args.num_shuffles, task_args.table_file
    )
    name = training_args.config_name or (config_name_of(config_path) if config_path else "default")
    prepare_output_dir(training_args, "semi_synthetic", name)
    stage, source, extra_sets = None, task_args.model_name_or_path, []
    if knowledge_args.world_knowledge:
        stage = train_world_knowledge(
            knowledge_args,
            task_args.type,
            task_args.pairing_seed,
            model_args,
            training_args,
            task_args.generation_batch_size,
        )
        source, extra_sets = stage["model_dir"], [recall_set(stage["types"])]
    model, tokenizer = sft.load_model_and_tokenizer(source, task_args.dtype)
    run = sft.two_hop_task_run(
        splits,
        model,
        tokenizer,
        lora_args,
        extra_sets,
        task_args.generation_batch_size,
        max_new_tokens=task_args.max_new_tokens,
        cot_max_new_tokens=task_args.cot_max_new_tokens,
        extra_results={"type": task_args.type, **({"world_knowledge": stage} if stage else {})},
    )
    described = {
        "experiment_config_path": config_label(config_path),
        "config_name": name,
        "type": task_args.type,
    }
    run.callback_factories.append(lambda trainer: sft.WandbConfigCallback(described))
    arguments = (task_args, knowledge_args, lora_args)
    if task_args.eval_only:
        results = sft.evaluate_checkpoint(run, model_args, training_args, config_path, *arguments)
    else:
        results = run_training(run, model_args, training_args, config_path, *arguments)
    sft.finish_wandb()
    return results


if __name__ == "__main__":
    run_recipe(make_parser(), main)
