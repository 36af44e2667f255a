"""The four parts of bench/gpu_suite.py. Each takes the suite's Sizes (and a time cap where it
trains), runs the real code path (the recipes' main(), the filter, bench/train_throughput.py)
and returns a flat dict of JSON-ready figures; progress goes to stderr."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (BENCH, REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from gpu_suite_watch import Stopwatch, extra_callbacks  # noqa: E402

FSM_TARGET = 0.99  # validation accuracy_seen (the Bayes optimum's is 1.0)
GSSM_CONFIG = "experiment1/onfly_small_X"  # the seed's run: 16 x 2048, lr 1e-2, 1000 steps
# Every recipe run: no checkpoints, no extra log-spaced evaluations, no shifted splits (not part
# of these figures; each would add evaluation time), no progress bars or trackers.
QUIET = (
    *("--save_strategy", "no", "--position_record_points", "0", "--eval_shifts", "{}"),
    *("--disable_tqdm", "true", "--report_to", "none"),
)


@dataclass(frozen=True)
class Sizes:
    """What one suite run does: the full sizes (a GPU) or the smoke test's (CPU, seconds)."""

    device: str
    budget_s: float  # the whole suite; parts are capped or skipped to stay inside it
    fsm_extra: tuple[str, ...]  # flags after phase1_1's own (smoke: tiny data)
    fsm_eval_steps: int
    fsm_cap_s: float  # wall seconds of training (evaluations included) before it is stopped
    gssm_extra: tuple[str, ...]
    gssm_cap_s: float
    filter_shape: tuple[int, int]
    filter_repeats: int
    loop_steps: int
    loop_repeats: int
    # Seconds each part needs at least (data, compilation, final evaluations, saving): a
    # training part's cap leaves this much for itself and every later part.
    reserve_s: dict = field(default_factory=dict)


FULL = Sizes(
    device="cuda",
    budget_s=450,
    fsm_extra=(),
    fsm_eval_steps=375,
    fsm_cap_s=180,
    gssm_extra=(),
    gssm_cap_s=150,
    filter_shape=(1024, 2048),
    filter_repeats=5,
    loop_steps=500,
    loop_repeats=2,
    reserve_s={"fsm": 25, "gssm": 40, "filter": 25, "recipe_vs_loop": 60},
)
SMOKE = Sizes(
    device="cpu",
    budget_s=170,
    fsm_extra=tuple("--num_train 256 --num_validation 32 --num_test 32".split()),
    fsm_eval_steps=4,
    fsm_cap_s=4,  # 16 epochs of 32 steps: stopped by the cap (that path runs too)
    gssm_extra=tuple("--seq_len 64 --num_validation 8 --max_steps 6 --eval_steps 3".split()),
    gssm_cap_s=60,
    filter_shape=(8, 64),
    filter_repeats=2,
    loop_steps=4,
    loop_repeats=1,
    reserve_s={"fsm": 15, "gssm": 30, "filter": 15, "recipe_vs_loop": 30},
)


def run_recipe(recipe: str, argv: list[str], watch: Stopwatch) -> dict:
    import importlib

    module = importlib.import_module(f"recipes.{recipe}")
    with tempfile.TemporaryDirectory() as output_dir, extra_callbacks(watch):
        full = [*argv, "--output_dir", output_dir, *QUIET]
        return module.main(*module.make_parser().parse(full))


def fsm(sizes: Sizes, cap_s: float) -> dict:
    """Phase 1.1 as configured (16 epochs, linear decay), validation every fsm_eval_steps."""
    watch = Stopwatch(cap_s, "eval_accuracy_seen", FSM_TARGET)
    argv = [
        *"--config phase1_1 --eval_strategy steps --load_best_model_at_end false".split(),
        *("--eval_steps", str(sizes.fsm_eval_steps), "--use_cpu", str(sizes.device == "cpu")),
        *sizes.fsm_extra,
    ]
    results = run_recipe("fsm_icl", argv, watch)
    values = [(e["value"], e["step"]) for e in watch.evaluations if e["value"] is not None]
    best, best_step = max(values, default=(None, None))
    reached = watch.reached or {}
    return {
        "fsm_tokens_per_s": watch.tokens / watch.train_s,
        "fsm_steps_per_s": watch.steps / watch.train_s,
        "fsm_steps": watch.steps,
        "fsm_train_s": watch.train_s,
        "fsm_eval_s": watch.eval_s,
        "fsm_evaluations": len(watch.evaluations),
        "fsm_eval_steps": sizes.fsm_eval_steps,
        "fsm_stopped": watch.stopped,
        "fsm_cap_s": cap_s,
        "fsm_target": FSM_TARGET,
        "fsm_time_to_target_s": reached.get("wall_s"),
        "fsm_train_time_to_target_s": reached.get("train_s"),
        "fsm_target_step": reached.get("step"),
        "fsm_target_epoch": reached.get("epoch"),
        "fsm_best_accuracy_seen": best,
        "fsm_best_step": best_step,
        "fsm_bayes_accuracy_seen": results["reference"].get("validation_bayes_accuracy_seen"),
        "fsm_num_parameters": results["num_parameters"],
        **{f"fsm_{k}": v for k, v in watch.model_info.items()},
    }


def gssm(sizes: Sizes, cap_s: float) -> dict:
    """Experiment 1, small alpha_X, fresh data every step, as configured (16 x 2048, 1000 steps,
    validation every 100); excess_loss from the runner's evaluation after training."""
    watch = Stopwatch(cap_s, "excess_loss")
    argv = ["--config", GSSM_CONFIG, "--use_cpu", str(sizes.device == "cpu"), *sizes.gssm_extra]
    results = run_recipe("gssm", argv, watch)
    metrics, config = results["metrics"], results["config"]
    return {
        "gssm_tokens_per_s": watch.tokens / watch.train_s,
        "gssm_steps_per_s": watch.steps / watch.train_s,
        "gssm_steps": watch.steps,
        "gssm_max_steps": config["max_steps"],
        "gssm_seq_len": config["seq_len"],
        "gssm_batch": config["per_device_train_batch_size"],
        "gssm_train_s": watch.train_s,
        "gssm_eval_s": watch.eval_s,
        "gssm_stopped": watch.stopped,
        "gssm_cap_s": cap_s,
        "gssm_excess_loss": metrics["excess_loss"],
        "gssm_bayes_loss": metrics["bayes_loss"],
        "gssm_eval_loss": metrics["eval_loss"],
        "gssm_excess_curve": [[e["step"], e["value"]] for e in watch.evaluations],
        "gssm_num_parameters": results["num_parameters"],
        **{f"gssm_{k}": v for k, v in watch.model_info.items()},
    }


def exact_filter(sizes: Sizes) -> dict:
    """The exact forward filter (numba, float64, on the CPU's cores: it has no GPU path) on
    sequences of the experiment-1 graph at GSSM_CONFIG's alphas: warmed up at full size,
    median of filter_repeats."""
    import numba
    import numpy as np

    from latent_lab.config import load_yaml
    from latent_lab.tasks.gssm.config import GRAPHS_DIR
    from latent_lab.tasks.gssm.model import GSSM, load_graph, rng_key

    config = load_yaml(REPO / "recipes" / "configs" / "gssm" / f"{GSSM_CONFIG}.yaml")
    graph = load_graph(GRAPHS_DIR / f"{config['graph']}.yaml", config["alpha_X"], config["alpha_Z"])
    model = GSSM.from_seed(graph, graph_seed=0)
    num_sequences, seq_len = sizes.filter_shape
    tokens = model.sample(num_sequences, seq_len, rng_key(2))  # sampled data, never zeros
    model.bayes(tokens[:8, :16])  # compile
    result = model.bayes(tokens)  # warm-up at full size
    if not np.isfinite(result.nll).all():
        raise RuntimeError("the filter returned a non-finite loss")
    seconds = []
    for _ in range(sizes.filter_repeats):
        start = time.perf_counter()
        model.bayes(tokens)
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    return {
        "filter_median_s": median,
        "filter_min_s": min(seconds),
        "filter_max_s": max(seconds),
        "filter_repeats": sizes.filter_repeats,
        "filter_shape": f"{num_sequences}x{seq_len}",
        "filter_tokens_per_s": num_sequences * seq_len / median,
        "filter_device": "cpu (numba; the filter has no GPU path)",
        "filter_threads": numba.get_num_threads(),
        "filter_bayes_loss": result.bayes_loss,
    }


def recipe_vs_loop(sizes: Sizes) -> dict:
    """bench/train_throughput.py on sizes.device: the char-stream recipe (Trainer) against its
    hand-written loop, same model and data; after a warm-up, best of loop_repeats each."""
    import train_throughput as throughput

    steps, device = sizes.loop_steps, sizes.device
    throughput.hand_loop_seconds(min(20, steps), device)  # CUDA context, kernels, data cache
    recipe_s, loop_s = float("inf"), float("inf")
    for repeat in range(sizes.loop_repeats):  # alternated, so drift hits both alike
        with tempfile.TemporaryDirectory() as output_dir:
            recipe_s = min(recipe_s, throughput.recipe_seconds(steps, output_dir, device))
        loop_s = min(loop_s, throughput.hand_loop_seconds(steps, device))
        print(f"recipe vs loop: repeat {repeat + 1}/{sizes.loop_repeats}", file=sys.stderr)
    tokens = steps * throughput.BATCH * throughput.BLOCK
    return {
        "recipe_tokens_per_s": tokens / recipe_s,
        "loop_tokens_per_s": tokens / loop_s,
        "recipe_over_loop": loop_s / recipe_s,
        "loop_steps": steps,
        "loop_repeats": sizes.loop_repeats,
        "loop_shape": f"batch {throughput.BATCH} x block {throughput.BLOCK}",
    }
