"""`latent-lab gssm difficulty`: the settings (a YAML plus flags), measuring a grid of alphas
(optionally one shard of it), merging shards, and solving for equivalent pairs."""

from __future__ import annotations

import sys
from pathlib import Path

from latent_lab.commands.output import emit
from latent_lab.errors import UserError
from latent_lab.files import check_output_path
from latent_lab.tasks.gssm.commands import _first, load_config, split_config

DIFFICULTY_KEYS = ("graph", "grid", "graph_seeds", "num_sequences", "seq_len", "data_seed",
                   "measure", "target", "reference", "small_alpha", "output_dir", "tolerance",
                   "max_graph_seeds")  # fmt: skip


def difficulty_settings(args):
    """(DifficultySettings, output folder) from --config and the flags (flags win)."""
    from latent_lab.tasks.builders import field_names

    name, data, base, is_builder = load_config(args.config, "difficulty")
    if is_builder:  # a builder config contributes its graph only, not its training sizes
        data = {"graph": data["graph"]}
    graphs, fields = split_config(name, data, base, {*field_names("gssm"), *DIFFICULTY_KEYS})
    flags = {
        "grid": _numbers(args.grid, "--grid") if args.grid else None,
        "graph_seeds": _seed_flag(args.graph_seeds) if args.graph_seeds else None,
        "reference": _numbers(args.reference, "--reference") if args.reference else None,
        "num_sequences": args.num_sequences, "seq_len": args.seq_len,
        "data_seed": args.data_seed, "measure": args.measure, "target": args.target,
        "small_alpha": args.small_alpha, "tolerance": args.tolerance,
        "max_graph_seeds": args.max_graph_seeds,
    }  # fmt: skip
    if args.target is not None:  # a target on the command line replaces a file's reference
        fields.pop("reference", None)
    elif flags["reference"] is not None:
        fields.pop("target", None)
    values = {key: _first(flags[key], fields.get(key)) for key in flags}
    values = {key: value for key, value in values.items() if value is not None}
    from latent_lab.tasks.gssm.difficulty import (
        DifficultySettings,  # numpy, scipy: after the checks
    )

    given = [key for key, flag in flags.items() if flag is not None]
    settings = DifficultySettings(graphs=tuple(graphs), **_normalised(values, given))
    default = Path("runs") / "gssm_difficulty" / name.replace("/", "-")
    return settings, Path(_first(args.output_dir, fields.get("output_dir"), default))


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(part) for part in str(text).split(",")]
    except ValueError:
        raise UserError(f"{flag}: expected comma-separated numbers, got {text!r}") from None


def _seed_flag(text: str):
    """--graph-seeds: one number is a count, several (0,3,7) a list."""
    numbers = _numbers(text, "--graph-seeds")
    return numbers[0] if len(numbers) == 1 else numbers


# What each setting must look like, for the one-line error that names it.
SHAPES = {
    "grid": "grid is MIN,MAX,POINTS, e.g. 1e-3,1,9",
    "graph_seeds": "graph_seeds is a count N (seeds 0..N-1) or a list of seeds such as 0,3,7",
    "reference": "reference is AX,AZ, e.g. 1e-3,0.142",
}


def _normalised(values: dict, from_flags=()) -> dict:
    """YAML and flag values -> the settings' types; a bad value is a one-line error naming its
    field (the flag when `from_flags` says the value came from the command line)."""
    out = dict(values)
    for key, value in values.items():
        try:
            out[key] = _convert(key, value)
        except (TypeError, ValueError, OverflowError):
            label = f"--{key.replace('_', '-')}" if key in from_flags else key
            shape = SHAPES.get(key, "expected a number")
            raise UserError(f"{label}: {shape}; got {value!r}") from None
    return out


def _convert(key: str, value):
    if key == "grid":
        low, high, points = (float(v) for v in value)
        return (low, high, int(points) if points == int(points) else points)
    if key == "graph_seeds":  # a count N (seeds 0..N-1) or a list of seeds
        seeds = list(value) if isinstance(value, (list, tuple)) else range(int(value))
        return tuple(int(s) for s in seeds)
    if key == "reference":
        alpha_X, alpha_Z = (float(v) for v in value)
        return (alpha_X, alpha_Z)
    if key in ("target", "small_alpha", "tolerance"):
        return float(value)
    if key in ("num_sequences", "seq_len", "data_seed", "max_graph_seeds"):
        return int(value)
    return value


def run_difficulty(args) -> dict:
    if args.merge:
        return run_merge(args)
    if not args.config:
        raise UserError("--config: required (a graph, builder config or difficulty settings)")
    settings, output_dir = difficulty_settings(args)
    check_output_path(output_dir, "--output-dir")  # before hours of measuring

    from tqdm import tqdm

    from latent_lab.tasks.gssm import difficulty

    shard = difficulty.parse_shard(args.shard) if args.shard else None
    cells = difficulty.grid_cells(settings)
    if shard is not None:
        cells = difficulty.shard_of(cells, *shard)
    with tqdm(total=len(cells), desc="difficulty grid", unit="cell", file=sys.stderr) as bar:
        records = difficulty.measure_cells(cells, settings, bar)
    if shard is not None:
        path = difficulty.write_jsonl(difficulty.shard_path(output_dir, *shard), records)
        return {"shard": list(shard), "jsonl": str(path), "cells": len(records),
                "output_dir": str(output_dir)}  # fmt: skip
    return finish(records, settings, output_dir)


def run_merge(args) -> dict:
    output_dir = Path(args.merge)
    if not output_dir.is_dir():
        raise UserError(f"--merge {output_dir}: no such folder; give the folder of the shards")
    check_output_path(output_dir, "--merge")  # the merged grid and plot go there

    from latent_lab.tasks.gssm import difficulty

    records = difficulty.merge_shards(output_dir)
    settings = None
    if args.config:  # solve pairs beside the merged grid
        settings, _ = difficulty_settings(args)
        difficulty.check_records_match(records, settings)
    return finish(records, settings, output_dir)


def finish(records: list[dict], settings, output_dir: Path) -> dict:
    """Write the JSONL and heat-map, solve and print the equivalent pairs."""
    from tqdm import tqdm

    from latent_lab.files import write_json_atomic
    from latent_lab.tasks.gssm import difficulty
    from latent_lab.tasks.gssm.difficulty_plot import pairs_table, plot_difficulty

    jsonl = difficulty.write_jsonl(output_dir / difficulty.JSONL_NAME, records)
    pairs = []
    if settings is not None:
        with tqdm(desc="solving pairs", unit="eval", file=sys.stderr) as bar:
            pairs = difficulty.solve_pairs(settings, bar)
    if pairs:
        write_json_atomic(output_dir / "pairs.json", pairs)
        emit(pairs_table(pairs))
    plot = plot_difficulty(records, output_dir / "difficulty.png", pairs)
    return {"output_dir": str(output_dir), "jsonl": str(jsonl), "plot": str(plot),
            "cells": len(records), "pairs": pairs}  # fmt: skip
