"""A curriculum of FSM datasets (the seed's phase 6): stages trained one after another, each
starting from the previous stage's saved (best) model. Every stage is a normal fsm_icl run
folder (results.json, model, report) under the curriculum's output_dir; the curriculum's own
results.json summarizes the stages and carries the final stage's metrics.

python recipes/fsm_curriculum.py --config phase6_1 [--seed 1 --run_name phase6_1-run1]

The YAML holds fsm_icl fields shared by every stage plus `stages`, a list of mappings of
fields for that stage only (e.g. {dataset: 3s3a, num_train_epochs: 16}). Precedence: a
stage's own keys > the command line > the shared YAML keys > defaults.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.config import yaml_field
from latent_lab.errors import UserError
from latent_lab.training.recipe import run_recipe
from recipes import fsm_icl

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
    return fsm_icl.make_parser(CurriculumArguments)


def main(curriculum_args, data_args, model_args, training_args, config_path=None):
    from latent_lab.config import config_name_of
    from latent_lab.training.results import write_results
    from latent_lab.training.runner import prepare_output_dir

    start = time.time()
    stages = check_stages(curriculum_args.stages)
    config_name = training_args.config_name or (
        config_name_of(config_path) if config_path else "curriculum"
    )
    prepare_output_dir(training_args, "fsm_icl", config_name)
    root = Path(training_args.output_dir)
    base = (data_args, model_args, training_args)
    planned, previous_dir = [], None
    for index, stage in enumerate(stages):
        planned.append(stage_arguments(base, stage, index, root, config_name, previous_dir))
        previous_dir = planned[-1][2].output_dir
    validate_plan(planned)  # every mistake surfaces before any training
    records = [run_stage(*arguments, config_path) for arguments in planned]
    if records[-1] is None or training_args.process_index != 0:  # not the main process
        return None
    summary = {
        **records[-1],
        "config_name": config_name,
        "run_name": training_args.run_name,
        "output_dir": str(root),
        "wall_time_s": round(time.time() - start, 3),
        "final_model_dir": str(Path(records[-1]["output_dir"]).resolve()),
        "stages": [stage_summary(record) for record in records],
        "config": {**records[-1]["config"], "stages": stages},
    }
    write_results(root, summary)
    return summary


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


def stage_arguments(base, stage: dict, index: int, root: Path, config_name: str, init_from):
    """(data, model, training) arguments of one stage: the base ones with the stage's keys,
    typed and validated by the recipe's own parser; `init_from` is the previous stage's
    folder (None for the first stage, which keeps the curriculum's own init_from)."""
    argv = [word for key, value in stage.items() for word in (f"--{key}", _as_text(value))]
    try:
        typed = make_parser().parse(argv)[1:-1]
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
    )
    if init_from is not None:  # the previous stage's saved (best) model
        model_args = dataclasses.replace(model_args, init_from=init_from)
    return data_args, model_args, training_args


def validate_plan(planned) -> None:
    """Builder fields of every stage, one vocabulary for all (the model carries over), and the
    first stage's init_from folder."""
    from latent_lab.models.loading import check_model_dir
    from latent_lab.tasks.builders import make_builder

    vocabularies = set()
    for index, (data_args, _, _) in enumerate(planned):
        try:
            builder = make_builder("fsm_icl", data_args.dataset, **data_args.builder_fields())
        except UserError as error:
            raise UserError(f"stages[{index}]: {error}") from None
        vocabularies.add(builder.config.vocab)
    if len(vocabularies) > 1:
        raise UserError(
            "stages: every stage must share s_max and a_max (one vocabulary, so each stage can "
            f"start from the previous model); got {sorted(vocabularies, key=str)}"
        )
    first_init = planned[0][1].init_from
    if first_init is not None:
        check_model_dir(first_init, "init_from")


def run_stage(data_args, model_args, training_args, config_path) -> dict | None:
    """Train one stage; with --resume a stage that already wrote results.json is kept."""
    finished = Path(training_args.output_dir) / "results.json"
    if training_args.resume and finished.is_file():
        return json.loads(finished.read_text())
    return fsm_icl.main(data_args, model_args, training_args, config_path)


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


if __name__ == "__main__":
    run_recipe(make_parser(), main)
