"""Probe results for a results page: a run folder's probes/probes.json (`latent-lab probe
--model RUN_DIR`) as rows per target and layer, beside the best constant prediction and the
random-init control at the same layer."""

from __future__ import annotations

import json
from pathlib import Path

PROBES_FILE = "probes.csv"
COLUMNS = (
    "grid",
    "arm",
    "pair",
    "target",
    "kind",
    "layer",
    "name",
    "value",
    "constant",
    "random_init",
)
# What each kind of target is scored by, and its constant-prediction figure.
SCORES = {
    "hard": ("test_accuracy", "majority_baseline"),
    "soft": ("kl_to_posterior", "baseline_kl"),
}


def probe_rows(folder: Path, ids: dict) -> list[dict]:
    path = folder / "probes" / "probes.json"
    if not path.is_file():
        return []
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []  # a damaged probes.json: the page says the probes are still to be run
    names = result.get("layers") or []
    controls = (result.get("controls") or {}).get("random_init") or {}
    rows = []
    for target, figures in sorted((result.get("targets") or {}).items()):
        score, constant = SCORES.get(figures.get("kind"), SCORES["hard"])
        values = figures.get(score) or []
        control = (controls.get(target) or {}).get(score) or []
        for layer, value in enumerate(values):
            rows.append(
                {
                    **ids,
                    "target": target,
                    "kind": figures.get("kind"),
                    "layer": layer,
                    "name": names[layer] if layer < len(names) else str(layer),
                    "value": value,
                    "constant": figures.get(constant),
                    "random_init": control[layer] if layer < len(control) else None,
                }
            )
    return rows
