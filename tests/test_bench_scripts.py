"""The benchmark scripts stay runnable as the code moves: each one imports, and the files it
reads exist (bench/gssm_sampling.py once read graphs from a folder that had moved)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Scripts with a main(); the others are the GPU suite's parts (tests/test_gpu_suite.py).
SCRIPTS = sorted(p.stem for p in BENCH.glob("*.py") if "def main(" in p.read_text())


def test_every_script_is_checked():
    assert {"cli_startup", "fsm_train", "gssm_sampling", "train_throughput"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_bench_script_imports(name):
    assert callable(load(name).main)


def test_gssm_sampling_reads_the_shipped_graphs():
    graphs = load("gssm_sampling").GRAPHS
    assert graphs.is_dir() and (graphs / "experiment1.yaml").is_file()
