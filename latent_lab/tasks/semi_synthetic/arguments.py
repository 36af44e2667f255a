"""The semi-synthetic recipe's arguments: the data fields (derived from the builder config), the
model to fine-tune, the self-contained world-knowledge stage, LoRA, and TRL's SFTConfig.

A builder config of this task is an e2 type, so `dataset` (the config to start from) and `type`
name the same thing: give either. A recipe YAML says `type: parks` (recipes/configs/
semi_synthetic/parks.yaml); `--type bridges` then fine-tunes on bridges with parks.yaml's
training settings, and `dataset` follows it. Setting both to different types is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from latent_lab.errors import UserError
from latent_lab.tasks.data_arguments import data_arguments
from latent_lab.tasks.semi_synthetic import facts
from latent_lab.tasks.semi_synthetic.config import DEFAULT_TYPE, SemiSyntheticDataConfig
from latent_lab.tasks.semi_synthetic.schema import unknown_type_error
from latent_lab.training.arguments import lab_sft_config_class


def _field(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


_SemiSyntheticFields = data_arguments(
    "SemiSyntheticArguments",
    SemiSyntheticDataConfig,
    DEFAULT_TYPE,
    task="semi_synthetic",
    doc="The semi_synthetic builder's fields (any of them overrides the config named by "
    "`dataset`), plus the model to fine-tune and the generation budgets.",
    recipe_fields=[
        ("model_name_or_path", str | None,
         _field(None, "Hub name or local folder of an instruct model")),
        ("dtype", str, _field("auto", "weights dtype: auto | bfloat16 | float32 | ...")),
        ("eval_only", bool,
         _field(False, "evaluate model_name_or_path on every split, no training")),
        ("generation_batch_size", int, _field(16, "prompts per generate call")),
        ("max_new_tokens", int, _field(50, "answer budget without CoT")),
        ("cot_max_new_tokens", int, _field(200, "answer budget with CoT")),
    ],
)  # fmt: skip


@dataclass
class SemiSyntheticArguments(_SemiSyntheticFields):
    """The data fields (type, data_seed, num_shuffles, table_file; `dataset` follows `type`)
    and the recipe's own: model_name_or_path, dtype, eval_only and the generation budgets."""

    def __post_init__(self):
        super().__post_init__()
        if self.type is not None and self.dataset != self.type:
            if self.dataset != DEFAULT_TYPE:
                raise UserError(
                    f"dataset: {self.dataset!r} and type: {self.type!r} name different e2 types "
                    "(a builder config is a type); set only one of them"
                )
            if self.type in facts.TYPES:  # else the builder reports the type
                self.dataset = self.type  # start from the type's own config
        for name in ("generation_batch_size", "max_new_tokens", "cot_max_new_tokens"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}: must be >= 1, got {getattr(self, name)}")


@dataclass
class WorldKnowledgeArguments:
    """The self-contained stage (world_knowledge.py): a small model (the model_* fields) trained
    from scratch on the e2 facts before the first-hop fine-tune."""

    world_knowledge: bool = _field(
        False, "first train a small model from scratch on the e2 facts (model_* fields)"
    )
    world_knowledge_types: list[str] | None = _field(
        None, "e2 types whose facts are taught (default: [type])"
    )
    world_knowledge_epochs: float = _field(60.0, "epochs of the stage")
    world_knowledge_learning_rate: float = _field(1e-3, "its peak lr")
    world_knowledge_batch_size: int = _field(16, "its batch per device")
    demo_people: int = _field(100, "invented people (not in people.json) shown as demos")
    demo_nocot: bool = _field(True, "also show the demos' two-hop questions answered at once")
    min_recall: float = _field(0.9, "warn when the fact recall ends below this")

    def __post_init__(self):
        for name in self.world_knowledge_types or []:
            if name not in facts.TYPES:
                raise unknown_type_error(name)
        if self.world_knowledge_epochs <= 0 or self.world_knowledge_learning_rate <= 0:
            raise UserError("world_knowledge_epochs and world_knowledge_learning_rate: must be > 0")
        if self.world_knowledge_batch_size < 1 or self.demo_people < 0:
            raise UserError("world_knowledge_batch_size >= 1 and demo_people >= 0 are required")

    def types(self, e2_type: str) -> list[str]:
        return list(dict.fromkeys([*(self.world_knowledge_types or []), e2_type]))


@dataclass
class LoraArguments:
    use_lora: bool = _field(False, "train LoRA adapters (peft)")
    lora_r: int = _field(16, "LoRA rank")
    lora_alpha: int = _field(32, "LoRA scaling numerator")
    lora_dropout: float = _field(0.05, "dropout on the LoRA input")
    lora_target_modules: list[str] | None = _field(
        None, "module names, or [all-linear]; default: peft's for the architecture"
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


@dataclass
class TwoHopSFTConfig(lab_sft_config_class()):
    """The lab's SFTConfig as a module-level class: Trainer.save_model torch.saves its
    arguments, and pickle cannot find a class made inside a function (lab_sft_config_class)."""


def make_parser():
    """Shared by recipes/semi_synthetic.py and everything that reads its fields (launch, the
    CLI)."""
    from latent_lab.config import LabParser
    from latent_lab.models.arguments import ModelArguments

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
