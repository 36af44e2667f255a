"""Sharded difficulty grids: `--shard I/N` picks every N-th cell, each shard writes its own
JSONL file, and `--merge` joins them (every shard present once, every cell once)."""

from __future__ import annotations

import json
from pathlib import Path

from latent_lab.errors import UserError
from latent_lab.files import write_text_atomic


def parse_shard(text: str) -> tuple[int, int]:
    """`I/N` (0 <= I < N, e.g. $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"--shard: expected I/N such as 0/4, got {text!r}") from None
    if not 0 <= index < count:
        raise UserError(f"--shard {text}: need 0 <= I < N (shards are numbered 0..N-1)")
    return index, count


def shard_of(cells: list[dict], index: int, count: int) -> list[dict]:
    return [cell for cell in cells if cell["cell"] % count == index]  # round-robin: balanced


def shard_path(directory: Path, index: int, count: int) -> Path:
    return Path(directory) / f"difficulty-shard{index}of{count}.jsonl"


def write_jsonl(path: Path, records: list[dict]) -> Path:
    lines = [json.dumps(record, sort_keys=True) for record in records]
    return write_text_atomic(path, "".join(line + "\n" for line in lines))


def read_jsonl(path: Path) -> list[dict]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: cannot read difficulty records ({error})") from None


def merge_shards(directory: Path) -> list[dict]:
    """Join difficulty-shard<I>of<N>.jsonl files: every shard present once, every cell once,
    the same sizes everywhere. Returns the records in cell order."""
    directory = Path(directory)
    paths = sorted(directory.glob("difficulty-shard*of*.jsonl"))
    counts = {path.stem.rsplit("of", 1)[1] for path in paths}
    if len(counts) != 1:
        found = "no shard files" if not paths else f"shards of several sizes ({sorted(counts)})"
        raise UserError(f"--merge {directory}: {found}; run every --shard I/N into one folder")
    count = int(counts.pop())
    missing = [i for i in range(count) if not shard_path(directory, i, count).is_file()]
    if missing:
        raise UserError(f"--merge {directory}: shards {missing} of {count} are missing; "
                        "run them first")  # fmt: skip
    records = [r for i in range(count) for r in read_jsonl(shard_path(directory, i, count))]
    records.sort(key=lambda record: record["cell"])
    sizes = {json.dumps([r["num_cells"], r["graph_seeds"], r["num_sequences"], r["seq_len"],
                         r["data_seed"]]) for r in records}  # fmt: skip
    cells = [record["cell"] for record in records]
    if len(sizes) != 1 or cells != list(range(records[0]["num_cells"] if records else 0)):
        raise UserError(f"--merge {directory}: the shards come from different settings or "
                        "overlap; delete the folder and run the shards again")  # fmt: skip
    return records
