"""Training throughput of every checked architecture at about 1M parameters on the FSM 5s5a
batch (phase 1.1: batch 8, the recipe's Trainer path), measured in one run, with each
architecture's ratio to the LSTM's tokens/s.

    python bench/zoo_throughput.py [--steps 100] [--device cpu|cuda] [--types lstm mamba ...]

CPU runs use torch's pure PyTorch paths (no mamba_ssm/causal_conv1d/fla kernels); on a GPU
the fast kernels are used when they are installed. Training steps only (no evaluation).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fsm_train import QUIET, phase_shape  # noqa: E402

from recipes.fsm_icl import main as recipe_main  # noqa: E402
from recipes.fsm_icl import make_parser  # noqa: E402

TYPES = ("lstm", "rnn", "gpt2", "llama", "mamba", "mamba2", "xlstm", "qwen3_next")
TARGET = 1_063_424  # the large LSTM of phase 1.1


def train_seconds(model_type: str, steps: int, device: str) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as output_dir:
        argv = ["--config", "phase1_1", "--model_type", model_type, "--num_hidden_layers", "2",
                "--target_num_parameters", str(TARGET), "--max_position_embeddings", "128",
                "--num_validation", "64", "--num_test", "64",
                "--max_steps", str(steps), "--eval_strategy", "no", "--save_strategy", "no",
                "--load_best_model_at_end", "false", "--logging_steps", str(10 * steps),
                "--output_dir", output_dir, "--use_cpu", str(device == "cpu"),
                "--position_record_points", "0", "--eval_shifts", "{}", *QUIET]  # fmt: skip
        results = recipe_main(*make_parser().parse(argv))
    return results["metrics"]["train_runtime"], results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--types", nargs="+", default=list(TYPES))
    args = parser.parse_args()
    shape = phase_shape("phase1_1")
    tokens_per_step = shape["batch"] * shape["mean_tokens"]
    rows = {}
    for model_type in args.types:
        train_seconds(model_type, 3, args.device)  # warm-up: kernels, data cache, allocator
        seconds, results = train_seconds(model_type, args.steps, args.device)
        rows[model_type] = (results["num_parameters"], results["state_size"],
                            args.steps * tokens_per_step / seconds)  # fmt: skip
        print(f"{model_type}: {seconds:.2f} s", file=sys.stderr)
    lstm = rows.get("lstm", (None, None, None))[2]
    print(f"device {args.device}, torch threads {torch.get_num_threads()}, 5s5a batch "
          f"{shape['batch']}, mean episode {shape['mean_tokens']:.1f} tokens, "
          f"{args.steps} steps")  # fmt: skip
    print(f"{'model_type':<12}{'parameters':>12}{'state':>9}{'tokens/s':>12}{'vs lstm':>9}")
    for model_type, (parameters, state, speed) in rows.items():
        ratio = f"{speed / lstm:.2f}" if lstm else "n/a"
        print(f"{model_type:<12}{parameters:>12,}{state or 0:>9,}{speed:>12,.0f}{ratio:>9}")


if __name__ == "__main__":
    main()
