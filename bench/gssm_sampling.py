"""GSSM throughput: sampler tokens/s, exact-filter seconds, data share of an on-the-fly step.

    .venv/bin/python bench/gssm_sampling.py [--repeats 5] [--filter-sequences 1024]

Figures (one process, after compilation; best of --repeats):
- fast sampler tokens/s on the experiment-1 graph at 1024 x 2048 and 16 x 2048, and the
  plain numpy reference sampler on the same graph (shorter runs), with the speed-up;
- seconds of the exact Bayes filter on 1024 x 2048 tokens, experiment-1 and experiment-2
  dense graphs (256 joint states each);
- the share of an on-the-fly training step spent sampling one 16 x 2048 batch, against one
  forward + backward of the spec's default Llama (hidden 64, 4 layers, 4 heads, vocab 32).
The last line is JSON. The load average is printed: figures on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from latent_lab.tasks.gssm.model import GSSM, load_graph, reference_sample, rng_key

GRAPHS = Path(__file__).resolve().parents[1] / "latent_lab" / "tasks" / "gssm" / "graphs"
SEQ_LEN = 2048


def best_seconds(function, repeats: int) -> float:
    return best_wall_and_cpu(function, repeats)[0]


def best_wall_and_cpu(function, repeats: int) -> tuple[float, float]:
    """Best wall and process-CPU seconds. CPU seconds (all threads) are less sensitive to other
    jobs on a shared machine: tokens per CPU-second x cores ~ the throughput of a quiet one."""
    function()  # compile / warm caches
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return min(walls), min(cpus)


def sampler_figures(model: GSSM, repeats: int) -> dict:
    figures = {}
    for batch in (1024, 16):
        run = lambda b=batch: model.sample(b, SEQ_LEN, rng_key(1))  # noqa: E731
        seconds, cpu_seconds = best_wall_and_cpu(run, repeats)
        figures[f"fast_tokens_per_s_{batch}x{SEQ_LEN}"] = batch * SEQ_LEN / seconds
        figures[f"fast_tokens_per_cpu_s_{batch}x{SEQ_LEN}"] = batch * SEQ_LEN / cpu_seconds
    for batch, length in ((1024, 64), (16, 512)):
        rng = np.random.default_rng(0)

        def run(b=batch, t=length, rng=rng):
            return reference_sample(model.graph, model.kernels, b, t, rng)

        seconds = best_seconds(run, max(1, repeats // 2))
        figures[f"reference_tokens_per_s_{batch}x{length}"] = batch * length / seconds
    figures["speedup_1024"] = (
        figures[f"fast_tokens_per_s_1024x{SEQ_LEN}"] / figures["reference_tokens_per_s_1024x64"]
    )
    figures["speedup_16"] = (
        figures[f"fast_tokens_per_s_16x{SEQ_LEN}"] / figures["reference_tokens_per_s_16x512"]
    )
    return figures


def filter_seconds(graph_name: str, num_sequences: int, **alphas) -> dict:
    model = GSSM.from_seed(load_graph(GRAPHS / f"{graph_name}.yaml", **alphas), graph_seed=0)
    tokens = model.sample(num_sequences, SEQ_LEN, rng_key(2))
    model.bayes(tokens[:8, :16])  # compile
    start, start_cpu = time.perf_counter(), time.process_time()
    model.bayes(tokens)
    name = f"{graph_name}_{num_sequences}x{SEQ_LEN}"
    return {
        f"filter_s_{name}": time.perf_counter() - start,
        f"filter_cpu_s_{name}": time.process_time() - start_cpu,
    }


def training_step_share(model: GSSM, repeats: int) -> dict:
    import torch

    from latent_lab.models.arguments import ModelArguments
    from latent_lab.models.factory import build_model

    torch.manual_seed(0)
    arguments = ModelArguments(
        model_type="llama", hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
        max_position_embeddings=SEQ_LEN,
    )  # fmt: skip
    network = build_model(arguments, model.graph.vocab_size)
    batch = torch.from_numpy(model.sample(16, SEQ_LEN, rng_key(3)))

    def step():
        network.zero_grad(set_to_none=True)
        network(input_ids=batch, labels=batch).loss.backward()

    step_seconds = best_seconds(step, max(1, repeats // 2))
    sample_seconds = best_seconds(lambda: model.sample(16, SEQ_LEN, rng_key(4)), repeats)
    return {
        "sample_16x2048_s": sample_seconds,
        "forward_backward_16x2048_s": step_seconds,
        "data_share_of_step": sample_seconds / (sample_seconds + step_seconds),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--filter-sequences", type=int, default=1024)
    parser.add_argument("--skip-training-step", action="store_true")
    args = parser.parse_args(argv)
    experiment1 = {"alpha_X": 1e-3, "alpha_Z": 0.142}
    model = GSSM.from_seed(load_graph(GRAPHS / "experiment1.yaml", **experiment1), 0)
    figures = {"load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    figures.update(sampler_figures(model, args.repeats))
    figures.update(filter_seconds("experiment1", args.filter_sequences, **experiment1))
    figures.update(filter_seconds("experiment2_dense", args.filter_sequences, alpha_Z=0.22))
    if not args.skip_training_step:
        figures.update(training_step_share(model, args.repeats))
    for name, value in figures.items():
        print(f"{name:42s} {value:,.4g}" if isinstance(value, float) else f"{name:42s} {value}")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
