"""Training throughput: the char-stream recipe path (Trainer) vs a minimal hand-written
PyTorch loop, same model (the course's basic.py GPT), same data, same optimiser settings.
Training steps only: evaluation, logging and checkpointing are off in both.

    python bench/train_throughput.py [--steps 300] [--repeats 2] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recipes.char_stream import main as recipe_main  # noqa: E402
from recipes.char_stream import make_parser  # noqa: E402

BATCH, BLOCK = 12, 64


def recipe_seconds(steps: int, output_dir: str, device: str) -> float:
    argv = [
        "--config", "insert_spaces", "--max_steps", str(steps), "--eval_strategy", "no",
        "--save_strategy", "no", "--logging_steps", str(10 * steps), "--report_to", "none",
        "--disable_tqdm", "true", "--output_dir", output_dir, "--use_cpu", str(device == "cpu"),
        # No evaluation inside train_runtime: neither the log-spaced extra evaluations nor the
        # config's shifted splits (both run even with eval_strategy no).
        "--position_record_points", "0", "--eval_shifts", "{}",
    ]  # fmt: skip
    results = recipe_main(*make_parser().parse(argv))
    return results["metrics"]["train_runtime"]


def hand_loop_seconds(steps: int, device: str) -> float:
    """nanoGPT's train.py loop, reduced to its training step."""

    from latent_lab.models.arguments import ModelArguments
    from latent_lab.models.factory import build_model
    from latent_lab.tasks.builders import build_dataset
    from latent_lab.tasks.char_stream.tokenizer import tokenizer_from_dataset
    from latent_lab.tasks.char_stream.windows import RandomWindows, flat_tokens

    dataset = build_dataset("char_stream", "insert_spaces")
    tokenizer = tokenizer_from_dataset(dataset)
    tokens = flat_tokens(dataset["train"])
    windows = RandomWindows(tokens, BLOCK, steps * BATCH, seed=42)
    torch.manual_seed(42)
    model = build_model(
        ModelArguments(
            hidden_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            max_position_embeddings=BLOCK,
        ),  # fmt: skip
        len(tokenizer),
    ).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=1e-3, betas=(0.9, 0.99),
    )  # fmt: skip
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        lr = cosine_lr(step, steps)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = torch.stack([windows[step * BATCH + i]["input_ids"] for i in range(BATCH)])
        batch = batch.to(device)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def cosine_lr(step, total, peak=1e-3, floor=1e-4, warmup=100):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    tokens_per_run = args.steps * BATCH * BLOCK
    best_recipe, best_hand = float("inf"), float("inf")
    for repeat in range(args.repeats):  # alternate so machine noise hits both alike
        with tempfile.TemporaryDirectory() as tmp:
            best_recipe = min(best_recipe, recipe_seconds(args.steps, tmp, args.device))
        best_hand = min(best_hand, hand_loop_seconds(args.steps, args.device))
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    recipe_tps, hand_tps = tokens_per_run / best_recipe, tokens_per_run / best_hand
    print(f"device {args.device}, {args.steps} steps x batch {BATCH} x block {BLOCK}")
    print(f"recipe path (Trainer): {recipe_tps:12,.0f} tokens/s  ({best_recipe:.2f} s)")
    print(f"hand-written loop:     {hand_tps:12,.0f} tokens/s  ({best_hand:.2f} s)")
    print(f"ratio recipe / hand:   {recipe_tps / hand_tps:.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
