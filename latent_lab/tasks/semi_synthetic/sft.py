"""SFT on the two-hop splits: chat rows as TRL prompt/completion (loss on the answer only),
a pretrained model by Hub name or local folder, LoRA or full fine-tune, eval loss of every
split, generation accuracy and the shuffled-answer loss advantage."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from latent_lab.errors import UserError
from latent_lab.tasks.semi_synthetic import facts
from latent_lab.training.arguments import lab_sft_config_class
from latent_lab.training.generation_accuracy import GenerationSet

COT_MAX_NEW_TOKENS = 200
REFERENCE = {"best_accuracy": 1.0, "loss_advantage_without_link": 0.0}
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


@dataclass
class TwoHopSFTConfig(lab_sft_config_class()):
    """The lab's SFTConfig as a module-level class: Trainer.save_model torch.saves its
    arguments, and pickle cannot find a class made inside a function (lab_sft_config_class)."""


@dataclass
class LoraArguments:
    use_lora: bool = field(default=False, metadata={"help": "train LoRA adapters (peft)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling numerator"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    lora_target_modules: list[str] | None = field(
        default=None,
        metadata={"help": "module names, or [all-linear]; default: peft's for the architecture"},
    )

    def __post_init__(self):
        if self.lora_r < 1 or self.lora_alpha < 1:
            raise UserError("lora_r and lora_alpha: must be >= 1")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise UserError(f"lora_dropout: must be in [0, 1), got {self.lora_dropout}")

    def peft_config(self):
        if not self.use_lora:
            return None
        from peft import LoraConfig

        targets = self.lora_target_modules
        if targets == ["all-linear"]:
            targets = "all-linear"
        return LoraConfig(
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=targets,
            task_type="CAUSAL_LM",
        )


def load_model_and_tokenizer(name_or_path: str, dtype: str = "auto", option="model_name_or_path"):
    """A causal LM and its tokenizer from a local folder (a LoRA adapter folder loads its base
    model too) or a Hub name; a missing folder or an unreachable Hub is a one-line UserError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(name_or_path).expanduser()
    if folder.exists():
        if (
            not (folder / "config.json").is_file()
            and not (folder / "adapter_config.json").is_file()
        ):
            raise UserError(f"{option}: {name_or_path!r} holds no saved model (config.json)")
    elif not HUB_ID.fullmatch(name_or_path):
        raise UserError(
            f"{option}: folder {name_or_path!r} does not exist; give a saved model folder or a "
            "Hub name such as meta-llama/Llama-3.1-8B-Instruct"
        )
    source = str(folder) if folder.exists() else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)  # first: fails fast, before the weights
        if not tokenizer.chat_template:
            raise UserError(
                f"{option}: {name_or_path!r} has no chat template; use an instruct model"
            )
        if (folder / "adapter_config.json").is_file():
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(source, dtype=dtype)
        else:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
    except (OSError, ValueError) as error:  # ValueError: a name the Hub rejects, unknown model
        raise _loading_error(name_or_path, error, option, folder.exists()) from None
    return model, tokenizer


def _loading_error(name: str, error: Exception, option: str, local: bool) -> UserError:
    from huggingface_hub import constants

    text = " ".join(str(error).split())
    if not local and (constants.HF_HUB_OFFLINE or "couldn't connect" in text.lower()):
        return UserError(
            f"{option}: model {name!r} is not a local folder and the Hub is offline; "
            "pass a local path or go online"
        )
    return UserError(f"{option}: cannot load model {name!r}: {text[:300]}")


def two_hop_splits(e2_type, seed=None, num_shuffles=5, table_file=None) -> dict[str, list]:
    """{split: rows}: the builder's DatasetDict (cached, shareable), or, with `table_file`, the
    same splits built from a user's table (schema-checked; its type must be `e2_type`)."""
    if table_file is None:
        from latent_lab.tasks.builders import build_dataset

        dataset = build_dataset("semi_synthetic", e2_type, seed=seed, num_shuffles=num_shuffles)
        return {name: split.to_list() for name, split in dataset.items()}
    table = facts.read_table(Path(table_file))
    if table.type != e2_type:
        raise UserError(f"table_file: {table_file} has type {table.type!r}; set type to match")
    return facts.build_splits(e2_type, seed, num_shuffles, table=table)


def prompt_completion(rows):
    """Chat rows as TRL's conversational prompt/completion dataset: TRL masks the prompt, so
    the loss covers the assistant text and the template's end-of-turn token only."""
    from datasets import Dataset

    return Dataset.from_list(
        [{"prompt": row["messages"][:-1], "completion": row["messages"][-1:]} for row in rows]
    )


def generation_sets(splits: dict, max_new_tokens=50, cot_max_new_tokens=COT_MAX_NEW_TOKENS):
    """acc_a on first_hop, acc_<split> on every 2hop_<attr>_nocot / _cot split."""
    sets = []
    for name, rows in splits.items():
        if name.endswith("_shuffled"):
            continue
        metric = "acc_a" if name == "first_hop" else f"acc_{name}"
        budget = cot_max_new_tokens if name.endswith("_cot") else max_new_tokens
        prompts = [row["messages"][:-1] for row in rows]
        sets.append(GenerationSet(metric, prompts, [row["answer"] for row in rows], budget))
    return sets


def reference_for(metric_names) -> dict[str, str]:
    """Accuracies against their exact ceiling 1.0; loss advantages against 0, the advantage of a
    model that knows the answer distribution but not the person -> entity link."""
    return {
        name: "best_accuracy" if name.startswith("acc_") else "loss_advantage_without_link"
        for name in metric_names
    }


class LossAdvantageCallback(TrainerCallback):
    """loss_advantage_<attr> = eval loss of 2hop_<attr>_nocot_shuffled - of 2hop_<attr>_nocot,
    added to the evaluation metrics and logged once per evaluation step."""

    def __init__(self, trainer, attributes):
        self.trainer = trainer
        self.attributes = list(attributes)
        self._losses: dict[str, float] = {}
        self._step: int | None = None
        self._logged_step: int | None = None

    def advantages(self) -> dict[str, float]:
        values = {}
        for attribute in self.attributes:
            nocot = self._losses.get(f"eval_2hop_{attribute}_nocot_loss")
            shuffled = self._losses.get(f"eval_2hop_{attribute}_nocot_shuffled_loss")
            if nocot is not None and shuffled is not None:
                values[f"loss_advantage_{attribute}"] = shuffled - nocot
        return values

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics is None:
            return
        if self._step != state.global_step:
            self._losses, self._step = {}, state.global_step
        self._losses.update({k: v for k, v in metrics.items() if k.endswith("_loss")})
        values = self.advantages()
        if len(values) == len(self.attributes):
            metrics.update(values)
            if self._logged_step != state.global_step:
                self._logged_step = state.global_step
                self.trainer.log(dict(values))


def evaluate_checkpoint(run, model_args, training_args, config_path, *extra_args) -> dict | None:
    """Evaluate run.model on every split (losses, accuracies, advantages) without training;
    results.json on the main process, like a training run's."""
    from latent_lab.config import config_name_of
    from latent_lab.training.runner import prepare_output_dir, record_results
    from latent_lab.training.tracking import configure_wandb

    start = time.time()
    name = training_args.config_name or (config_name_of(config_path) if config_path else "default")
    prepare_output_dir(training_args, run.task, name)
    configure_wandb(training_args, config_path)
    kwargs = {k: v for k, v in run.trainer_kwargs.items() if k != "peft_config"}
    trainer = run.trainer_class(
        model=run.model,
        args=training_args,
        train_dataset=run.train_dataset,
        eval_dataset=run.eval_dataset,
        processing_class=run.tokenizer,
        **kwargs,
    )
    for make_callback in run.callback_factories:
        trainer.add_callback(make_callback(trainer))
    metrics = trainer.evaluate()
    results = record_results(
        run, trainer, metrics, name, config_path, start, model_args, training_args, *extra_args
    )
    trainer.accelerator.wait_for_everyone()
    return results


def two_hop_task_run(
    splits, model, tokenizer, lora_args, extra_sets=(), batch_size=16, extra_results=None, **budgets
):
    """The TaskRun of a two-hop fine-tune: train on first_hop, evaluate every split; results.json
    gets the last generation samples and `extra_results`."""
    from trl import SFTTrainer

    from latent_lab.training.generation_accuracy import GenerationAccuracyCallback
    from latent_lab.training.runner import TaskRun

    sets = [*generation_sets(splits, **budgets), *extra_sets]
    attributes = [name[len("2hop_") : -len("_nocot")] for name in splits if name.endswith("_nocot")]
    accuracy = {}

    def make_accuracy_callback(trainer):
        accuracy["callback"] = GenerationAccuracyCallback(trainer, tokenizer, sets, batch_size)
        return accuracy["callback"]

    metric_names = [s.name for s in sets] + [f"loss_advantage_{a}" for a in attributes]
    return TaskRun(
        task="semi_synthetic",
        train_dataset=prompt_completion(splits["first_hop"]),
        eval_dataset={name: prompt_completion(rows) for name, rows in splits.items()},
        vocab_size=len(tokenizer),
        tokenizer=tokenizer,
        model=model,
        trainer_class=SFTTrainer,
        trainer_kwargs={"peft_config": lora_args.peft_config()},
        callback_factories=[
            make_accuracy_callback,
            lambda trainer: LossAdvantageCallback(trainer, attributes),
        ],
        reference=dict(REFERENCE),
        reference_for=reference_for(metric_names),
        finalize=lambda trainer: {"samples": accuracy["callback"].samples, **(extra_results or {})},
    )


class WandbConfigCallback(TrainerCallback):
    """Adds the recipe's own fields (experiment_config_path, type) to the W&B run's config, so
    runs group by them in the W&B UI as the trainer's arguments do."""

    def __init__(self, fields: dict):
        self.fields = dict(fields)
        self.done = False

    def _update(self, args, state) -> None:
        if self.done or not state.is_world_process_zero or "wandb" not in (args.report_to or []):
            return
        import wandb

        if wandb.run is not None:
            wandb.run.config.update(self.fields, allow_val_change=True)
            self.done = True

    def on_train_begin(self, args, state, control, **kwargs):
        self._update(args, state)

    def on_evaluate(self, args, state, control, **kwargs):
        self._update(args, state)


def finish_wandb() -> None:
    """Close this process's W&B run (the HF integration leaves it open until exit)."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()
