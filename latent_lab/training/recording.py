"""Recording per-position records during a run: a Trainer mixin that stamps every evaluation's
records with the step, the training tokens and the split, and a callback that adds
`position_record_points` log-spaced evaluations so early learning is resolved."""

from __future__ import annotations

import dataclasses

from transformers import TrainerCallback

from latent_lab.training.positions import PositionLog, log_spaced_steps, split_name


class PositionRecording:
    """Mixin before a Trainer class: when compute_metrics left `positions` (a Positions of the
    gathered evaluation), log them and make {prefix}_loss the records' mean (Trainer's own
    averages batch means and counts a padded duplicate when shards are uneven)."""

    position_log: PositionLog

    def evaluation_loop(self, dataloader, description, prediction_loss_only=None,
                        ignore_keys=None, metric_key_prefix="eval"):  # fmt: skip
        metrics_fn = self.compute_metrics
        if metrics_fn is not None and hasattr(metrics_fn, "positions"):
            metrics_fn.positions = None
            if hasattr(metrics_fn, "split"):  # metrics whose slices depend on the split
                metrics_fn.split = split_name(metric_key_prefix)
        output = super().evaluation_loop(
            dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
        )
        positions = getattr(metrics_fn, "positions", None)
        if positions is not None:
            output.metrics[f"{metric_key_prefix}_loss"] = positions.means()["loss"]
            self.position_log.add(positions, self.state.global_step,
                                  int(self.state.num_input_tokens_seen),
                                  split_name(metric_key_prefix))  # fmt: skip
        return output


def with_position_recording(trainer_class: type) -> type:
    """trainer_class with the PositionRecording mixin (a no-op for tasks without records)."""
    if issubclass(trainer_class, PositionRecording):
        return trainer_class
    return type(trainer_class.__name__, (PositionRecording, trainer_class), {})


def evaluate_shifts(trainer, shifts: dict) -> dict:
    """Evaluate every shifted split ({name: (dataset, compute_metrics or None)}) with its own
    metrics (its own exact reference), as eval_<name>_<metric>; returns the metrics."""
    metrics, main = {}, trainer.compute_metrics
    try:
        for name, (dataset, compute_metrics) in shifts.items():
            trainer.compute_metrics = compute_metrics or main
            metrics.update(trainer.evaluate(dataset, metric_key_prefix=f"eval_{name}"))
    finally:
        trainer.compute_metrics = main
    return metrics


class _KeepFlags:
    """evaluate() runs the log/evaluate callbacks, which reset the step's control flags
    (should_log...): restore them so the step logs and saves as configured."""

    def __init__(self, trainer, control):
        self.trainer, self.control = trainer, control

    def __enter__(self):
        self.flags = dataclasses.asdict(self.control)

    def __exit__(self, *exc):
        for name, value in self.flags.items():
            setattr(self.trainer.control, name, value)
            setattr(self.control, name, value)


class ShiftEvaluations(TrainerCallback):
    """During training, evaluate the shifted splits wherever validation is evaluated."""

    def __init__(self, trainer, shifts: dict):
        self.trainer, self.shifts, self.active = trainer, shifts, False

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.active or not self.trainer.is_in_train or "eval_loss" not in (metrics or {}):
            return control
        self.active = True  # the shifts' own evaluations call on_evaluate too
        try:
            with _KeepFlags(self.trainer, control):
                evaluate_shifts(self.trainer, self.shifts)
        finally:
            self.active = False
        return control


class LogSpacedEvaluations(TrainerCallback):
    """Evaluate at `points` log-spaced steps over the run besides the configured evaluations."""

    def __init__(self, trainer, points: int):
        self.trainer, self.points, self.steps = trainer, points, set()

    def on_train_begin(self, args, state, control, **kwargs):
        self.steps = set(log_spaced_steps(state.max_steps, self.points))

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.steps and not control.should_evaluate:
            # Evaluated here, not through control.should_evaluate: the best-checkpoint logic
            # must only see the configured evaluations (there is a checkpoint for those).
            self.trainer.extra_evaluation = True  # costly per-evaluation callbacks skip it
            try:
                with _KeepFlags(self.trainer, control):
                    self.trainer.evaluate()
            finally:
                self.trainer.extra_evaluation = False
        return control
