"""What the semi-synthetic recipe hands the runner: the argument checks, the splits (the
builder's DatasetDict as rows), the model to fine-tune (a pretrained instruct model, or the
small model the world-knowledge stage trains) and the TaskRun: TRL's SFTTrainer on first_hop,
every split evaluated, generation accuracy and the shuffled-answer loss advantage."""

from __future__ import annotations

from latent_lab.errors import UserError

TASK = "semi_synthetic"
RECURRENT_MODELS = ("lstm", "rnn")  # chat prompts are scored in left-padded batches


def check_arguments(data_args, knowledge_args, model_args):
    """Every mistake the arguments reveal, before any data or folder; returns the builder (the
    named config with this run's overrides, validated, a user table read; no data yet)."""
    from latent_lab.tasks.semi_synthetic.sft import check_model_name

    if model_args.evaluate_model is not None:  # `latent-lab evaluate`: this recipe's eval_only
        if data_args.model_name_or_path not in (None, model_args.evaluate_model):
            raise UserError(
                "evaluate_model: names the model to evaluate; remove model_name_or_path"
            )
        data_args.model_name_or_path, data_args.eval_only = model_args.evaluate_model, True
        knowledge_args.world_knowledge = False
    if knowledge_args.world_knowledge:
        if data_args.model_name_or_path:
            raise UserError(
                "model_name_or_path: world_knowledge trains its own model from scratch; "
                "remove one of them"
            )
        if data_args.eval_only:
            raise UserError("eval_only: evaluates model_name_or_path; set world_knowledge: false")
        if data_args.table_file:
            raise UserError(
                "table_file: world_knowledge teaches the shipped tables; use one of them"
            )
        if model_args.model_type in RECURRENT_MODELS:
            raise UserError(
                f"model_type: world_knowledge needs a transformer (llama or gpt2), got "
                f"{model_args.model_type!r}: chat prompts are scored in left-padded batches"
            )
    elif not data_args.model_name_or_path:
        raise UserError(
            "model_name_or_path: missing; name a Hub model or a local folder, "
            "or set world_knowledge: true to train a small model from scratch"
        )
    else:
        check_model_name(data_args.model_name_or_path)
    return data_args.check()


def load_splits(builder) -> dict[str, list[dict]]:
    """{split: rows} of the builder's DatasetDict (built once, then reused from the cache)."""
    from latent_lab.tasks.builders import prepare_dataset

    return {name: split.to_list() for name, split in prepare_dataset(builder).items()}


def load_model(config, data_args, knowledge_args, model_args, training_args):
    """(model, tokenizer, stage): model_name_or_path, or the small model the world-knowledge
    stage trains from scratch in <output_dir>/world_knowledge (stage: its summary, else None)."""
    from latent_lab.tasks.semi_synthetic.sft import load_model_and_tokenizer
    from latent_lab.tasks.semi_synthetic.world_knowledge import train_world_knowledge

    stage, source = None, data_args.model_name_or_path
    if knowledge_args.world_knowledge:
        stage = train_world_knowledge(
            knowledge_args,
            config.type,
            config.pairing_seed(),
            model_args,
            training_args,
            data_args.generation_batch_size,
        )
        source = stage["model_dir"]
    model, tokenizer = load_model_and_tokenizer(source, data_args.dtype)
    return model, tokenizer, stage


def task_run(
    splits, model, tokenizer, *, data_args, lora_args, e2_type, stage, config_name, config_path
):
    """The TaskRun of a two-hop fine-tune: train on first_hop, evaluate every split (losses,
    accuracies, loss advantages); results.json gets the type, the last generation samples and
    the world-knowledge stage's summary."""
    from trl import SFTTrainer

    from latent_lab.tasks.semi_synthetic import positions, sft
    from latent_lab.tasks.semi_synthetic.world_knowledge import recall_set
    from latent_lab.training.generation_accuracy import GenerationAccuracyCallback
    from latent_lab.training.runner import TaskRun
    from latent_lab.training.tracking import config_label

    budgets = dict(max_new_tokens=data_args.max_new_tokens,
                   cot_max_new_tokens=data_args.cot_max_new_tokens)  # fmt: skip
    sets = sft.generation_sets(splits, **budgets) + ([recall_set(stage["types"])] if stage else [])
    attributes = [name[len("2hop_") : -len("_nocot")] for name in splits if name.endswith("_nocot")]
    batch_size, accuracy = data_args.generation_batch_size, {}

    def make_accuracy_callback(trainer):
        accuracy["callback"] = GenerationAccuracyCallback(trainer, tokenizer, sets, batch_size)
        return accuracy["callback"]

    extra_results = {"type": e2_type, **({"world_knowledge": stage} if stage else {})}
    described = {"experiment_config_path": config_label(config_path),
                 "config_name": config_name, "type": e2_type}  # fmt: skip
    metric_names = [s.name for s in sets] + [f"loss_advantage_{a}" for a in attributes]
    baseline, baseline_for = sft.baselines(sets, attributes)
    return TaskRun(
        task=TASK,
        train_dataset=sft.prompt_completion(splits["first_hop"]),
        eval_dataset={name: sft.prompt_completion(rows) for name, rows in splits.items()},
        vocab_size=len(tokenizer),
        tokenizer=tokenizer,
        model=model,
        trainer_class=SFTTrainer,
        trainer_kwargs={"peft_config": lora_args.peft_config()},
        compute_metrics=positions.TwoHopPositions(),
        preprocess_logits_for_metrics=positions.preprocess_logits_for_metrics,
        callback_factories=[
            make_accuracy_callback,
            lambda trainer: sft.LossAdvantageCallback(trainer, attributes),
            lambda trainer: sft.WandbConfigCallback(described),
        ],
        reference=dict(sft.REFERENCE),
        reference_for=sft.reference_for(metric_names),
        baseline=baseline,
        baseline_for=baseline_for,
        finalize=lambda trainer: {"samples": accuracy["callback"].samples, **extra_results},
    )
