"""GPU benchmark suite (issue 15, item 4): four figures in at most 8 minutes on one H100/H200.

    bench/gpu_suite.sh [--smoke] [--parts fsm gssm filter recipe_vs_loop]

1. fsm: recipes/fsm_icl.py --config phase1_1 (LSTM 256 x 2, batch 8, 16 epochs with linear
   decay), validation every 375 steps: training tokens/s, and the time until validation
   accuracy_seen reaches 0.99 (wall from the first step, and training steps alone).
2. gssm: recipes/gssm.py --config experiment1/onfly_small_X (16 x 2048, 1000 steps): training
   tokens/s, and excess_loss = eval_loss - bayes_loss after the last step.
3. filter: the exact Bayes filter on 1024 x 2048 experiment-1 tokens. It is numba on the CPU
   (no GPU path exists): the figure is the GPU machine's CPU cores, median of 5 after warm-up.
4. recipe_vs_loop: bench/train_throughput.py's char-stream recipe against its hand-written
   loop on the GPU, tokens/s each and the ratio.

Each training part is stopped at its wall-time cap, and a cap leaves every later part its
reserve, so the suite ends within its budget (450 s of parts) even if a part runs slow; a part
that fails is reported and the others still run. Precision: the recipes' defaults (float32;
PyTorch's own TF32 settings, printed). Progress goes to stderr; stdout ends with a table and a
JSON line of every figure, also written to $OUT/gpu_suite.json when OUT is set (after each
part, so a killed run keeps what it measured). --smoke runs every part on the CPU at toy sizes
(the tests); without a CUDA GPU and without --smoke the suite exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

START = time.monotonic()  # the figure suite_s: from the interpreter's first lines
sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = ("fsm", "gssm", "filter", "recipe_vs_loop")
# Imported by the parts' code paths: missing ones make the suite stop before any work.
NEEDED = (
    *("torch", "transformers", "datasets", "accelerate", "trl", "peft", "evaluate"),
    *("numba", "numpy", "yaml", "pyarrow", "matplotlib", "packaging"),
)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--smoke",
        action="store_true",
        default=os.environ.get("GPU_SUITE_SMOKE", "") not in ("", "0"),
        help="every part on the CPU at toy sizes (also GPU_SUITE_SMOKE=1)",
    )
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument(
        "--out",
        default=os.environ.get("OUT"),
        help="folder for gpu_suite.json (default: $OUT, if set)",
    )
    return parser.parse_args(argv)


def preflight(smoke: bool) -> str | None:
    """Why the suite cannot run here (one line), or None. Imports torch alone."""
    import importlib.util

    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if "torch" not in missing:
        import torch

        if not smoke and not torch.cuda.is_available():
            return (
                f"bench/gpu_suite.sh: needs a CUDA GPU (torch {torch.__version__} sees none); "
                "run `bench/gpu_suite.sh --smoke` for the CPU check of every part"
            )
    if missing:
        return (
            f"bench/gpu_suite.sh: missing Python packages {', '.join(missing)}; install the "
            "project (`make setup`) or point PYTHON at an environment that has it"
        )
    return None


def version_warnings() -> list[str]:
    """Installed versions below pyproject.toml's lower bounds (figures may then differ)."""
    import importlib.metadata
    import re
    import tomllib

    from packaging.version import Version

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    found = []
    for requirement in pyproject["project"]["dependencies"]:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][^,;\s]*)", requirement)
        if not match:
            continue
        name, floor = match.groups()
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name} not installed (pyproject: >={floor})")
            continue
        if Version(version.split("+")[0]) < Version(floor):
            found.append(f"{name} {version} < {floor} (pyproject)")
    return found


def environment(smoke: bool) -> dict:
    import torch
    import transformers

    cuda = torch.cuda.is_available() and not smoke
    return {
        "mode": "smoke (CPU, toy sizes)" if smoke else "full",
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cpus": os.cpu_count(),
        "precision": "float32 (recipe defaults); TF32 matmul "
        f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}, cuDNN TF32 "
        f"{'on' if torch.backends.cudnn.allow_tf32 else 'off'}",
    }


class Suite:
    """Runs the parts in order inside the budget; figures and errors accumulate."""

    def __init__(self, sizes, out: str | None, figures: dict):
        import torch

        self.sizes, self.out, self.figures = sizes, out, figures
        self.deadline = time.monotonic() + sizes.budget_s
        self.failed: list[str] = []
        self.torch_threads = torch.get_num_threads()

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def cap(self, part: str, wanted: float, parts: list[str]) -> float:
        """wanted, less whatever the reserves of this and every later part need."""
        later = parts[parts.index(part) :]
        left = self.left() - sum(self.sizes.reserve_s[p] for p in later)
        return max(min(wanted, 5.0), min(wanted, left))  # 5 s at least: a figure, if a rough one

    def run(self, parts: list[str]) -> None:
        import gpu_suite_parts as run
        import torch

        sizes = self.sizes
        calls = {
            "fsm": lambda: run.fsm(sizes, self.cap("fsm", sizes.fsm_cap_s, parts)),
            "gssm": lambda: run.gssm(sizes, self.cap("gssm", sizes.gssm_cap_s, parts)),
            "filter": lambda: run.exact_filter(sizes),
            "recipe_vs_loop": lambda: run.recipe_vs_loop(sizes),
        }
        for part in parts:
            if self.left() < sizes.reserve_s[part]:
                self.figures[f"{part}_error"] = f"skipped: {self.left():.0f} s of the budget left"
                self.failed.append(part)
                continue
            print(f"== {part} ({self.left():.0f} s of the budget left)", file=sys.stderr)
            start = time.perf_counter()
            try:
                with contextlib.redirect_stdout(sys.stderr):  # stdout: the table and JSON only
                    self.figures.update(calls[part]())
            except Exception as error:  # one broken part must not lose the others' figures
                traceback.print_exc(file=sys.stderr)
                self.figures[f"{part}_error"] = f"{type(error).__name__}: {error}"[:300]
                self.failed.append(part)
            self.figures[f"{part}_part_s"] = time.perf_counter() - start
            # numba's OpenMP layer sets the process's OpenMP thread count when it starts (the
            # filter, the GSSM sampler), and torch's CPU ops follow it: restore torch's.
            torch.set_num_threads(self.torch_threads)
            print(f"== {part} done in {self.figures[f'{part}_part_s']:.1f} s", file=sys.stderr)
            self.save()

    def save(self) -> None:
        if self.out:
            Path(self.out).mkdir(parents=True, exist_ok=True)
            text = json.dumps(self.figures, default=str)
            (Path(self.out) / "gpu_suite.json").write_text(text + "\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.smoke and "OMP_NUM_THREADS" in os.environ:
        # numba's OpenMP pool would reset torch's thread count to numba's (all cores) while the
        # GSSM recipe trains; on a shared CPU that made the smoke run 10x slower.
        os.environ.setdefault("NUMBA_NUM_THREADS", os.environ["OMP_NUM_THREADS"])
    problem = preflight(args.smoke)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from gpu_suite_parts import FULL, SMOKE
    from gpu_suite_table import table

    figures = environment(args.smoke)
    figures["version_warnings"] = version_warnings()
    for warning in figures["version_warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    suite = Suite(SMOKE if args.smoke else FULL, args.out, figures)
    suite.run(args.parts)
    figures["suite_s"] = time.monotonic() - START
    figures["failed_parts"] = suite.failed
    suite.save()
    print(table(figures, args.parts))
    print(json.dumps(figures, default=str))
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
