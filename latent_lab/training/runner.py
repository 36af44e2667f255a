"""The one path every recipe's run takes: a task hands over its data and metrics (TaskRun); the
runner names the run, builds the model and the Trainer, trains (or only evaluates), evaluates
every split, saves the model and writes results.json and the report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from latent_lab.config import config_name_of, dataclass_to_flat_dict
from latent_lab.hub.publish import defer_hub_push, publish_run
from latent_lab.training.excess import excess_curve, threshold_metrics
from latent_lab.training.positions import PositionLog
from latent_lab.training.recording import (
    LogSpacedEvaluations,
    ShiftEvaluations,
    evaluate_shifts,
    with_position_recording,
)
from latent_lab.training.results import make_results, write_results
from latent_lab.training.tracking import config_label, configure_wandb, set_log_levels

logger = logging.getLogger(__name__)


@dataclass
class TaskRun:
    """What a task hands the shared training path."""

    task: str
    train_dataset: object
    eval_dataset: object | None
    vocab_size: int
    tokenizer: object | None = None
    data_collator: Callable | None = None
    compute_metrics: Callable | None = None
    preprocess_logits_for_metrics: Callable | None = None
    # Factories taking the Trainer, so callbacks can log through it (TRL style).
    callback_factories: list[Callable] = field(default_factory=list)
    reference: dict = field(default_factory=dict)
    reference_for: dict = field(default_factory=dict)
    # Trivial baselines (baselines.py) and metric -> its baseline, like reference_for.
    baseline: dict = field(default_factory=dict)
    baseline_for: dict = field(default_factory=dict)
    special_token_ids: dict = field(default_factory=dict)
    trainer_class: type | None = None
    # Extra keyword arguments for the trainer class (e.g. peft_config for SFTTrainer).
    trainer_kwargs: dict = field(default_factory=dict)
    # A ready model (e.g. a pretrained one) instead of building one from the model fields.
    model: object | None = None
    # Splits evaluated once after training, metrics prefixed with the split name (test_...).
    final_eval_datasets: dict = field(default_factory=dict)
    # Called after training on the main process: returns extra results.json fields (samples...).
    finalize: Callable | None = None
    # compute_metrics looks sequences up by their tokens (Trainer's include_for_metrics inputs).
    metrics_need_inputs: bool = False
    # Shifted evaluation splits: name -> (dataset, compute_metrics or None for the main one),
    # evaluated wherever validation is, as eval_<name>_<metric>.
    eval_shifts: dict = field(default_factory=dict)


def default_run_name(config_name: str, seed: int) -> str:
    return f"{config_name.replace('/', '-')}-seed{seed}"


def prepare_output_dir(args, task: str, config_name: str) -> None:
    """Fill in run_name and output_dir (runs/<experiment>/<run_name>) when not given."""
    if not args.run_name:
        args.run_name = default_run_name(config_name, args.seed)
    if not args.output_dir_given:
        from latent_lab.files import check_output_path

        args.output_dir = str(Path("runs") / (args.experiment or task) / args.run_name)
        check_output_path(args.output_dir, "output_dir")  # a given one was checked at parsing
    args.run_folder = args.output_dir  # chosen: Ctrl-C names its checkpoints (training/recipe.py)


def last_checkpoint(output_dir: str) -> str | None:
    """The newest complete checkpoint: Trainer writes trainer_state.json last and not
    atomically, so a run killed while saving leaves a newer folder that cannot be resumed."""
    import json

    folder = Path(output_dir)
    steps = []
    for candidate in folder.glob("checkpoint-*") if folder.is_dir() else ():
        suffix = candidate.name.removeprefix("checkpoint-")
        if candidate.is_dir() and suffix.isdigit():
            steps.append((int(suffix), candidate))
    for _, candidate in sorted(steps, reverse=True):
        try:
            json.loads((candidate / "trainer_state.json").read_text())
        except (OSError, ValueError):
            logger.warning("--resume: skipping %s, an incomplete checkpoint", candidate)
            continue
        return str(candidate)
    return None


def run_config_name(training_args, config_path, default: str = "default") -> str:
    """The name results.json records: --config_name, else the config's path inside
    recipes/configs/<recipe>/ (or the file's stem), else `default`."""
    if training_args.config_name:
        return training_args.config_name
    return config_name_of(config_path) if config_path else default


def start_run(task: str, training_args, config_path, default_name: str = "default") -> str:
    """Name the run, choose its folder (runs/<experiment>/<run_name>) and its W&B group, seed
    everything; returns the config name."""
    import transformers

    set_log_levels(training_args)  # quiet the non-main processes
    config_name = run_config_name(training_args, config_path, default_name)
    prepare_output_dir(training_args, task, config_name)
    defer_hub_push(training_args)  # pushed with its model card after results.json, not by Trainer
    configure_wandb(training_args, config_path)
    transformers.set_seed(training_args.seed)
    return config_name


def make_trainer(run: TaskRun, model_args, training_args, *, train: bool = True):
    """The task's Trainer (or SFTTrainer) with its model, data, metrics and callbacks."""
    import transformers

    from latent_lab.models.factory import build_model

    if run.metrics_need_inputs and "inputs" not in training_args.include_for_metrics:
        training_args.include_for_metrics = [*training_args.include_for_metrics, "inputs"]
    model = run.model
    if model is None:
        model = build_model(model_args, run.vocab_size, **run.special_token_ids)
    kwargs = dict(run.trainer_kwargs)
    if not train:
        kwargs.pop("peft_config", None)  # evaluate the model as given, no new adapters
    trainer_class = with_position_recording(run.trainer_class or transformers.Trainer)
    trainer = trainer_class(
        model=model,
        args=training_args,
        train_dataset=run.train_dataset,
        eval_dataset=run.eval_dataset,
        data_collator=run.data_collator,
        compute_metrics=run.compute_metrics,
        preprocess_logits_for_metrics=run.preprocess_logits_for_metrics,
        processing_class=run.tokenizer,
        **kwargs,
    )
    # The run's records, rewritten after each evaluation while training (for --resume).
    folder = training_args.output_dir if train and trainer.is_world_process_zero() else None
    trainer.position_log = PositionLog(folder)
    for make_callback in run.callback_factories:
        trainer.add_callback(make_callback(trainer))
    points = training_args.position_record_points
    if train and run.eval_shifts:
        trainer.add_callback(ShiftEvaluations(trainer, run.eval_shifts))
    if train and points and run.eval_dataset is not None:
        trainer.add_callback(LogSpacedEvaluations(trainer, points))
    return trainer


def run_task(run: TaskRun, model_args, training_args, config_path, *extra_args,
             train: bool = True) -> dict | None:  # fmt: skip
    """The whole run: name and folder, model, Trainer, train (unless train=False or
    model_args.evaluate_model: evaluate the given model only), evaluate every split, save the
    model, write results.json and the report. Returns the results record on the main process,
    None on the others."""
    start = time.time()
    train = train and getattr(model_args, "evaluate_model", None) is None
    config_name = start_run(run.task, training_args, config_path)
    trainer = make_trainer(run, model_args, training_args, train=train)
    metrics = train_model(trainer, training_args) if train else {}
    if run.eval_dataset is not None:
        metrics.update(trainer.evaluate())
    metrics.update(evaluate_shifts(trainer, run.eval_shifts))
    for split, dataset in run.final_eval_datasets.items():
        metrics.update(trainer.evaluate(dataset, metric_key_prefix=split))
    if train:
        trainer.save_model()
        trainer.save_state()
    curve = excess_curve(trainer.position_log.summaries)
    metrics.update(threshold_metrics(curve, training_args.excess_thresholds))
    if trainer.is_world_process_zero():
        trainer.position_log.write(training_args.output_dir)
    context = (config_name, config_path, start, model_args, training_args, *extra_args)
    results = record_results(run, trainer, metrics, *context, curve=curve)
    if results is not None:
        _write_report(training_args.output_dir)
    trainer.accelerator.wait_for_everyone()
    publish_run(trainer, results, training_args)  # model card, --push_to_hub, end the W&B run
    return results


def train_model(trainer, training_args) -> dict:
    """trainer.train(), resuming from the newest complete checkpoint with --resume."""
    checkpoint = training_args.resume_from_checkpoint
    if training_args.resume and checkpoint is None:
        checkpoint = last_checkpoint(training_args.output_dir)
        if checkpoint is None:
            logger.warning(
                "--resume: no checkpoint in %s, starting from scratch", training_args.output_dir
            )
    if checkpoint is not None:
        restore_positions(trainer, checkpoint, training_args.output_dir)
    return dict(trainer.train(resume_from_checkpoint=checkpoint).metrics)


def restore_positions(trainer, checkpoint: str, output_dir: str) -> None:
    """The records of the evaluations before the checkpoint: the killed run wrote them."""
    import json

    from latent_lab.training.positions import POSITIONS_FILE

    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    restored = trainer.position_log.restore(Path(output_dir) / POSITIONS_FILE, state["global_step"])
    logger.info("--resume: %d earlier evaluations' records restored", restored)


def record_results(
    run: TaskRun,
    trainer,
    metrics: dict,
    config_name: str,
    config_path,
    start: float,
    model_args,
    training_args,
    *extra_args,
    curve: list | None = None,
) -> dict | None:
    """Write results.json on the main process and return its record (None on the others)."""
    from latent_lab.models.factory import state_size
    from latent_lab.models.sizing import count_parameters

    if not trainer.is_world_process_zero():
        return None
    model_config = trainer.accelerator.unwrap_model(trainer.model).config
    extra = run.finalize(trainer) if run.finalize else {}
    results = make_results(
        task=run.task,
        config_name=config_name,
        config_path=config_label(config_path),
        run_name=training_args.run_name,
        seed=training_args.seed,
        model_type=model_config.model_type,
        num_parameters=count_parameters(trainer.model),
        state_size=state_size(model_config),
        metrics=metrics,
        reference=run.reference,
        reference_for=run.reference_for,
        baseline=run.baseline,
        baseline_for=run.baseline_for,
        wall_time_s=time.time() - start,
        config=dataclass_to_flat_dict(*extra_args, model_args, training_args),
        output_dir=training_args.output_dir,
        excess_curve=curve or [],
        **extra,
    )
    write_results(training_args.output_dir, results)
    return results


def _write_report(output_dir: str) -> None:
    from latent_lab.analysis.run_report import write_run_report

    write_run_report(output_dir)
