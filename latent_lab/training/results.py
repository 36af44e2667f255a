"""results.json: the one record every run leaves (config, metrics, exact references, versions)."""

from __future__ import annotations

import importlib.metadata
import platform
from pathlib import Path

from latent_lab.files import write_json_atomic

RESULTS_FILE = "results.json"
_PACKAGES = (
    "latent-lab",
    "torch",
    "transformers",
    "datasets",
    "accelerate",
    "trl",
    "peft",
    "numpy",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def make_results(
    *,
    task: str,
    config_name: str,
    config_path: str | None,
    run_name: str,
    seed: int,
    model_type: str,
    num_parameters: int,
    state_size: int | None,
    metrics: dict,
    reference: dict,
    reference_for: dict,
    wall_time_s: float,
    config: dict,
    output_dir: str,
    baseline: dict | None = None,
    baseline_for: dict | None = None,
    **extra,
) -> dict:
    """The results.json record; `extra` holds task-specific fields (e.g. samples)."""
    return {
        "task": task,
        "config_name": config_name,
        "config_path": config_path,
        "run_name": run_name,
        "seed": seed,
        "model_type": model_type,
        "num_parameters": int(num_parameters),
        # floats of recurrent state per sequence; None: attention only, or no formula
        "state_size": None if state_size is None else int(state_size),
        "metrics": {k: _plain(v) for k, v in metrics.items()},
        "reference": {k: _plain(v) for k, v in reference.items()},
        "reference_for": dict(reference_for),
        # trivial baselines (training/baselines.py) and the metrics they stand beside
        "baseline": {k: _plain(v) for k, v in (baseline or {}).items()},
        "baseline_for": dict(baseline_for or {}),
        "wall_time_s": round(float(wall_time_s), 3),
        "versions": package_versions(),
        "config": {k: _plain(v) for k, v in config.items()},
        "output_dir": output_dir,
        **extra,
    }


def write_results(output_dir: str | Path, results: dict) -> Path:
    return write_json_atomic(Path(output_dir) / RESULTS_FILE, results)


def _plain(value):
    """JSON-friendly scalars (numpy and torch numbers become Python numbers)."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, RuntimeError):
            pass
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
