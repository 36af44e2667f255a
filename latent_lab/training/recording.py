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
            # evaluate() runs the log/evaluate callbacks, which reset this step's flags
            # (should_log...): restore them so the step logs and saves as configured.
            flags = dataclasses.asdict(control)
            self.trainer.evaluate()
            for name, value in flags.items():
                setattr(self.trainer.control, name, value)
                setattr(control, name, value)
        return control
