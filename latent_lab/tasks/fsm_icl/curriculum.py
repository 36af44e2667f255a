"""A curriculum of FSM datasets (the seed's phase 6): stages trained one after another, each
starting from the previous stage's saved (best) model. Every stage is a normal fsm_icl run
folder (results.json, model, report) under the curriculum's output_dir; the curriculum's own
results.json summarizes the stages and carries the final stage's metrics.

The config (recipes/configs/fsm_curriculum/) holds fsm_icl fields shared by every stage plus
`stages`, a list of mappings of fields for that stage only (e.g. {dataset: 3s3a,
num_train_epochs: 16}). Precedence: a stage's own keys > the command line > the shared YAML
keys > defaults.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.config import yaml_field
from latent_lab.errors import UserError

# Set for every stage by the curriculum itself.
STAGE_MANAGED_KEYS = ("output_dir", "run_name", "config_name", "init_from", "resume", "seed")


@dataclass
class CurriculumArguments:
    stages: str | None = field(
        default=None,
        metadata={"help": "list of stages, each a mapping of fsm_icl fields for that stage, "
                  "e.g. [{dataset: 3s3a}, {dataset: 5s5a}]"},
    )  # fmt: skip

    def __post_init__(self):
        if isinstance(self.stages, str):
            self.stages = yaml_field("stages", self.stages, "[{dataset: 3s3a}, {dataset: 5s5a}]")


def make_parser():
    """Shared by recipes/fsm_curriculum.py and everything that reads its fields; its configs
    resolve in recipes/configs/fsm_curriculum/."""
    from latent_lab.config import LabParser
    from latent_lab.tasks.fsm_icl.arguments import argument_classes

    return LabParser((CurriculumArguments, *argument_classes()), "fsm_curriculum")


@dataclass
class CurriculumPlan:
    """The checked stages: (builder, data, model, training arguments) of each, in order."""

    config_name: str
    root: Path
    run_name: str
    stages: list[dict]  # as the config wrote them
    runs: list[tuple]
    start: float = field(default_factory=time.time)


def plan_curriculum(curriculum_args, data_args, model_args, training_args, config_path):
    """Name the curriculum, choose its folder and check every stage (fields, one vocabulary,
    the first stage's init_from) before any data or folder is made."""
    from latent_lab.training.runner import start_run

    stages = check_stages(curriculum_args.stages)
    config_name = start_run("fsm_icl", training_args, config_path, "curriculum")
    root = Path(training_args.output_dir)
    base = (data_args, model_args, training_args)
    runs = [stage_arguments(base, stage, index, root, config_name) for index, stage in
            enumerate(stages)]  # fmt: skip
    builders = check_stage_arguments(runs)
    runs = [(builder, *arguments) for builder, arguments in zip(builders, runs, strict=True)]
    return CurriculumPlan(config_name, root, training_args.run_name, stages, runs)


def check_stages(stages) -> list[dict]:
    if not isinstance(stages, list) or not stages:
        raise UserError("stages: a curriculum needs a list of stages, e.g. [{dataset: 3s3a}]")
    for index, stage in enumerate(stages):
        if not isinstance(stage, dict) or "dataset" not in stage:
            raise UserError(f"stages[{index}]: expected a mapping with a dataset, e.g. "
                            "{dataset: 5s5a, num_train_epochs: 16}")  # fmt: skip
        managed = sorted(set(stage) & set(STAGE_MANAGED_KEYS))
        if managed:
            raise UserError(
                f"stages[{index}]: {managed[0]!r} is set by the curriculum for each stage; "
                "remove it (seed and run_name apply to the whole curriculum)"
            )
    return stages


def stage_arguments(base, stage: dict, index: int, root: Path, config_name: str):
    """(data, model, training) arguments of one stage: the base ones with the stage's keys,
    typed and validated by the fsm_icl recipe's own parser. Each later stage starts from the
    previous stage's model (run_stages sets init_from once that folder exists)."""
    from latent_lab.hub.publish import carry_hub_push
    from latent_lab.tasks.fsm_icl.arguments import make_parser

    argv = [word for key, value in stage.items() for word in (f"--{key}", _as_text(value))]
    try:
        typed = make_parser().parse(argv)[:-1]
    except UserError as error:
        raise UserError(f"stages[{index}]: {error}") from None
    name = f"stage{index}-{Path(str(stage['dataset'])).stem}"
    data_args, model_args, training_args = (
        dataclasses.replace(
            instance, **{key: getattr(parsed, key) for key in stage if hasattr(instance, key)}
        )
        for instance, parsed in zip(base, typed, strict=True)
    )
    training_args = dataclasses.replace(
        training_args,
        output_dir=str(root / name),
        run_name=f"{training_args.run_name}-{name}",
        config_name=f"{config_name}/{name}",
        wandb_tags=stage_tags(training_args, name),
        **carry_hub_push(base[2]),  # replace drops the deferred --push_to_hub: ask again
    )
    return data_args, model_args, training_args


def stage_tags(training_args, name: str) -> str:
    """Each stage is its own W&B run (finished when the stage ends) in the curriculum's group,
    tagged with its stage on top of the curriculum's tags."""
    import os

    tags = training_args.wandb_tags or os.environ.get("WANDB_TAGS") or ""
    return ",".join([*(tag.strip() for tag in tags.split(",") if tag.strip()), name])


def check_stage_arguments(runs) -> list:
    """Every stage's arguments as fsm_icl checks them, and one vocabulary for all (the model
    carries over); returns each stage's builder."""
    from latent_lab.tasks.fsm_icl.run import check_arguments

    builders = []
    for index, arguments in enumerate(runs):
        try:
            builders.append(check_arguments(*arguments))
        except UserError as error:
            raise UserError(f"stages[{index}]: {error}") from None
    vocabularies = {builder.config.vocab for builder in builders}
    if len(vocabularies) > 1:
        raise UserError(
            "stages: every stage must share s_max and a_max (one vocabulary, so each stage can "
            f"start from the previous model); got {sorted(vocabularies, key=str)}"
        )
    return builders


def run_stages(plan: CurriculumPlan, config_path) -> list[dict | None]:
    """Train the stages in order, each from the previous stage's saved (best) model; with
    --resume a stage that already wrote results.json is kept."""
    from latent_lab.tasks.fsm_icl import run as fsm
    from latent_lab.training.runner import run_task

    records, previous_dir = [], None
    for builder, data_args, model_args, training_args in plan.runs:
        if previous_dir is not None:
            model_args = dataclasses.replace(model_args, init_from=previous_dir)
        previous_dir = training_args.output_dir
        finished = Path(training_args.output_dir) / "results.json"
        if training_args.resume and finished.is_file():
            records.append(json.loads(finished.read_text()))
            continue
        task_run = fsm.task_run(fsm.load_data(builder))
        records.append(run_task(task_run, model_args, training_args, config_path, data_args))
    return records


def write_summary(plan: CurriculumPlan, records: list, training_args) -> dict | None:
    """The curriculum's results.json (main process): the final stage's record, the stages'
    headline figures and the final model's folder."""
    from latent_lab.training.results import write_results

    if records[-1] is None or training_args.process_index != 0:  # not the main process
        return None
    summary = {
        **records[-1],
        "config_name": plan.config_name,
        "run_name": plan.run_name,
        "output_dir": str(plan.root),
        "wall_time_s": round(time.time() - plan.start, 3),
        "final_model_dir": str(Path(records[-1]["output_dir"]).resolve()),
        "stages": [stage_summary(record) for record in records],
        "config": {**records[-1]["config"], "stages": plan.stages},
    }
    write_results(plan.root, summary)
    return summary


def stage_summary(record: dict) -> dict:
    """The headline figures of one stage for the curriculum's results.json."""
    metrics, reference = record["metrics"], record["reference"]
    headline = [f"{split}_{name}" for split in ("eval", "test")
                for name in ("accuracy", "accuracy_seen", "accuracy_unseen")]  # fmt: skip
    return {
        "dataset": record["config"]["dataset"],
        "config_name": record["config_name"],
        "output_dir": record["output_dir"],
        "best_step": record.get("best_step"),
        "wall_time_s": record["wall_time_s"],
        "metrics": {name: metrics.get(name) for name in headline},
        "reference": {
            name: reference.get(name)
            for name in ("validation_bayes_accuracy", "test_bayes_accuracy")
        },  # fmt: skip
    }


def _as_text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
