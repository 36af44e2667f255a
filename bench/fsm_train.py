"""FSM training throughput through the recipe path (Trainer), and what it means for a full
seed phase: by default the phase-1.1 model and batch (large LSTM 256 x 2, batch 8, 5s5a).

    python bench/fsm_train.py [--config phase1_1] [--steps 300] [--device cpu|cuda]
    python bench/fsm_train.py --hand-loop    # also time a bare PyTorch loop (Trainer overhead)
    python bench/fsm_train.py --full         # run the whole phase and report its wall time

Measures training steps only (evaluation and checkpointing off) on the phase's real data,
then estimates the full phase: ceil(num_train / batch) steps per epoch times the configured
epochs at the measured rate, plus one validation evaluation per epoch and the final ones
(timed from the recipe's own final evaluation).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recipes.fsm_icl import main as recipe_main  # noqa: E402
from recipes.fsm_icl import make_parser  # noqa: E402

# Training steps only: no log-spaced records points or shifted-split evaluations either (they
# run even with --eval_strategy no and would land inside train_runtime).
QUIET = ["--disable_tqdm", "true", "--report_to", "none", "--position_record_points", "0",
         "--eval_shifts", "{}"]  # fmt: skip


def recipe_run(config: str, steps: int, device: str, output_dir: str) -> dict:
    argv = ["--config", config, "--max_steps", str(steps), "--eval_strategy", "no",
            "--save_strategy", "no", "--load_best_model_at_end", "false",
            "--logging_steps", str(10 * steps), "--output_dir", output_dir,
            "--use_cpu", str(device == "cpu"), *QUIET]  # fmt: skip
    return recipe_main(*make_parser().parse(argv))


def hand_loop_seconds(config: str, steps: int, device: str) -> float:
    """The same model, data order aside, batch and optimiser in a bare loop."""
    from latent_lab.models.factory import build_model
    from latent_lab.tasks.builders import build_dataset
    from latent_lab.tasks.fsm_icl.generator import FSMVocab
    from latent_lab.tasks.fsm_icl.metrics import FSMCollator

    data_args, model_args, training_args, _ = make_parser().parse(["--config", config])
    dataset = build_dataset("fsm_icl", data_args.dataset, **data_args.builder_fields())
    vocab = FSMVocab(dataset["train"][0]["s_max"], dataset["train"][0]["a_max"])
    train = dataset["train"].select_columns(["input_ids", "labels"])
    torch.manual_seed(0)
    model = build_model(model_args, vocab.size).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training_args.learning_rate)
    collate, batch_size = FSMCollator(vocab.pad), training_args.per_device_train_batch_size
    order = np.random.default_rng(0).permutation(len(train))
    start = time.perf_counter()
    for step in range(steps):
        rows = [train[int(i)] for i in order[(step * batch_size) % len(train) :][:batch_size]]
        batch = {key: value.to(device) for key, value in collate(rows).items()}
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def phase_shape(config: str) -> dict:
    from latent_lab.tasks.builders import build_dataset

    data_args, _, training_args, _ = make_parser().parse(["--config", config])
    dataset = build_dataset("fsm_icl", data_args.dataset, **data_args.builder_fields())
    lengths = np.array([len(ids) for ids in dataset["train"]["input_ids"]])
    batch = training_args.per_device_train_batch_size
    return {
        "dataset": data_args.dataset,
        "num_train": len(lengths),
        "batch": batch,
        "epochs": training_args.num_train_epochs,
        "steps_per_epoch": math.ceil(len(lengths) / batch),
        "mean_tokens": float(lengths.mean()),
    }


def full_run(config: str, device: str) -> None:
    with tempfile.TemporaryDirectory() as output_dir:
        start = time.perf_counter()
        argv = ["--config", config, "--output_dir", output_dir, "--use_cpu", str(device == "cpu")]
        results = recipe_main(*make_parser().parse([*argv, *QUIET]))
        wall = time.perf_counter() - start
    metrics = results["metrics"]
    training_minutes = metrics["train_runtime"] / 60
    print(f"full {config} on {device}: {wall / 60:.1f} min wall ({training_minutes:.1f} training)")
    for name in ("eval_accuracy", "eval_accuracy_seen", "test_accuracy", "test_accuracy_seen"):
        print(f"  {name} = {metrics[name]:.4f}")
    print(f"  best step {results['best_step']}; Bayes-optimal validation accuracy "
          f"{results['reference']['validation_bayes_accuracy']:.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="phase1_1")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--hand-loop", action="store_true")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    if args.full:
        full_run(args.config, args.device)
        return
    shape = phase_shape(args.config)
    best_seconds, evaluation = float("inf"), None
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            metrics = recipe_run(args.config, args.steps, args.device, tmp)["metrics"]
        best_seconds = min(best_seconds, metrics["train_runtime"])
        evaluation = metrics["eval_runtime"]  # one pass over validation (final evaluation)
        print(
            f"repeat {repeat + 1}/{args.repeats}: {metrics['train_runtime']:.2f} s", file=sys.stderr
        )
    steps_per_s = args.steps / best_seconds
    tokens_per_s = steps_per_s * shape["batch"] * shape["mean_tokens"]
    total_steps = shape["steps_per_epoch"] * shape["epochs"]
    estimate = total_steps / steps_per_s + (shape["epochs"] + 2) * evaluation
    print(f"device {args.device}, {args.config}: {shape['dataset']}, batch {shape['batch']}, "
          f"{args.steps} steps, mean episode {shape['mean_tokens']:.1f} tokens")  # fmt: skip
    print(f"recipe path (Trainer): {steps_per_s:8.1f} steps/s  {tokens_per_s:10,.0f} tokens/s")
    print(f"one validation pass:   {evaluation:8.2f} s")
    print(f"full phase estimate:   {total_steps:,} steps ({shape['steps_per_epoch']} x "
          f"{shape['epochs']:g} epochs) + {shape['epochs'] + 2:g} evaluations = "
          f"{estimate / 60:.1f} min")  # fmt: skip
    if args.hand_loop:
        hand = hand_loop_seconds(args.config, args.steps, args.device)
        print(f"bare PyTorch loop:     {args.steps / hand:8.1f} steps/s  "
              f"(recipe / bare = {hand / best_seconds:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
