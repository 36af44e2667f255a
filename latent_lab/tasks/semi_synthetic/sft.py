"""SFT pieces for the two-hop splits: a pretrained model by Hub name or local folder, chat rows
as TRL prompt/completion (loss on the answer only), the generation-accuracy sets, the
shuffled-answer loss advantage and the W&B config fields. run.py assembles them into the
TaskRun; LoRA and the SFTConfig are in arguments.py."""

from __future__ import annotations

import re
from pathlib import Path

from transformers import TrainerCallback

from latent_lab.errors import UserError
from latent_lab.training.generation_accuracy import GenerationSet

COT_MAX_NEW_TOKENS = 200
SCORER = ("semi_synthetic", "two_hop_match")  # the evaluate module grading every reply
REFERENCE = {"best_accuracy": 1.0}
# The loss advantage's control, not an optimum: a model that knows the answer distribution but
# not the person -> entity link gains nothing from the true answer over a shuffled one.
NO_LINK_ADVANTAGE = "loss_advantage_without_link"
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def check_model_name(name_or_path: str, option="model_name_or_path") -> None:
    """A saved model folder or a well-formed Hub name, else a one-line UserError (no loading:
    an argument check, made before any data or folder)."""
    folder = Path(name_or_path).expanduser()
    if folder.exists():
        if not any((folder / name).is_file() for name in ("config.json", "adapter_config.json")):
            raise UserError(f"{option}: {name_or_path!r} holds no saved model (config.json)")
    elif not HUB_ID.fullmatch(name_or_path):
        raise UserError(
            f"{option}: folder {name_or_path!r} does not exist; give a saved model folder or a "
            "Hub name such as meta-llama/Llama-3.1-8B-Instruct"
        )


def load_model_and_tokenizer(name_or_path: str, dtype: str = "auto", option="model_name_or_path"):
    """A causal LM and its tokenizer from a local folder (a LoRA adapter folder loads its base
    model too) or a Hub name; a missing folder or an unreachable Hub is a one-line UserError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    check_model_name(name_or_path, option)
    folder = Path(name_or_path).expanduser()
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
        answers = [row["answer"] for row in rows]
        sets.append(GenerationSet(metric, prompts, answers, budget, scorer=SCORER))
    return sets


def reference_for(metric_names) -> dict[str, str]:
    """Accuracies against their exact ceiling 1.0 (the loss advantages have no optimum)."""
    return {name: "best_accuracy" for name in metric_names if name.startswith("acc_")}


def baselines(generation_sets, attributes) -> tuple[dict, dict]:
    """Each accuracy beside always giving its most frequent answer; each loss advantage beside
    0, its no-link control."""
    from latent_lab.training.baselines import majority_accuracy

    baseline = {NO_LINK_ADVANTAGE: 0.0}
    baseline_for = {f"loss_advantage_{attribute}": NO_LINK_ADVANTAGE for attribute in attributes}
    for generation_set in generation_sets:
        baseline[f"{generation_set.name}_majority"] = majority_accuracy(generation_set.answers)
        baseline_for[generation_set.name] = f"{generation_set.name}_majority"
    return baseline, baseline_for


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
