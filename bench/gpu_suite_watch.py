"""Timing for bench/gpu_suite.py's training parts: a Trainer callback that times the training
steps with evaluations left out and stops at a cap or a target, and a way to hand it to the
Trainer a recipe's shared runner builds."""

from __future__ import annotations

import contextlib
import time

from transformers import TrainerCallback


def synchronize() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class Stopwatch(TrainerCallback):
    """Training-step time with evaluations left out, each evaluation's `metric`, and a stop at
    a wall-time cap or, with a target, at the first evaluation where the metric reaches it."""

    def __init__(self, cap_s: float, metric: str, target: float | None = None):
        self.cap_s, self.metric, self.target = cap_s, metric, target
        self.evaluations: list[dict] = []  # step, wall_s and train_s before it, value
        self.reached: dict | None = None
        self.stopped, self.active, self.eval_s = "end", False, 0.0
        self.start = self.last = self.end = 0.0
        self.steps = self.tokens = 0
        self.model_info: dict = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        synchronize()
        self.start = self.last = time.perf_counter()
        self.active = True
        if model is not None:
            parameter = next(model.parameters())
            self.model_info = {
                "dtype": str(parameter.dtype).removeprefix("torch."),
                "device": str(parameter.device),
                "attn_implementation": getattr(model.config, "_attn_implementation", None),
            }

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_evaluate:
            synchronize()  # the queued steps are training time, not evaluation time
        self.last = time.perf_counter()
        if self.last - self.start >= self.cap_s and not control.should_training_stop:
            self.stopped, control.should_training_stop = "cap", True

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self.active:
            return  # the runner's evaluations after training
        now = time.perf_counter()
        record = {
            "step": state.global_step,
            "wall_s": self.last - self.start,
            "train_s": self.last - self.start - self.eval_s,
            "value": (metrics or {}).get(self.metric),
        }
        self.evaluations.append(record)
        self.eval_s += now - self.last
        self.last = now
        value = record["value"]
        if self.target is not None and self.reached is None and value is not None:
            if value >= self.target:
                self.reached = {**record, "epoch": state.epoch}
                self.stopped, control.should_training_stop = "target", True

    def on_train_end(self, args, state, control, **kwargs):
        synchronize()
        self.end, self.active = time.perf_counter(), False
        self.steps, self.tokens = state.global_step, state.num_input_tokens_seen

    @property
    def train_s(self) -> float:
        return self.end - self.start - self.eval_s


@contextlib.contextmanager
def extra_callbacks(*callbacks):
    """Add callbacks to the Trainer the shared runner builds (the recipes take none)."""
    from latent_lab.training import runner

    original = runner.make_trainer

    def make_trainer(*args, **kwargs):
        trainer = original(*args, **kwargs)
        for callback in callbacks:
            trainer.add_callback(callback)
        return trainer

    runner.make_trainer = make_trainer
    try:
        yield
    finally:
        runner.make_trainer = original
