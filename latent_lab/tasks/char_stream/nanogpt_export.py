"""Export a char_stream DatasetDict as nanoGPT's data folder: meta.pkl, train.bin, val.bin.

The files are what nanoGPT's data/shakespeare_char/prepare.py writes for the same text
(vocabulary: sorted characters of all text; ids as np.uint16; meta pickled with the default
protocol), so nanoGPT's train.py and sample.py run on them unchanged.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np

from latent_lab.errors import UserError
from latent_lab.tasks.char_stream.tokenizer import dataset_vocabulary, split_text

# nanoGPT's file name for each split of ours.
SPLIT_FILES = {"train": "train.bin", "validation": "val.bin"}
UINT16_LIMIT = np.iinfo(np.uint16).max + 1


def nanogpt_meta(characters: list[str]) -> dict:
    """meta.pkl's dict, built exactly as prepare.py builds it (same keys, order and objects)."""
    stoi = {ch: i for i, ch in enumerate(characters)}
    itos = {i: ch for i, ch in enumerate(characters)}
    return {"vocab_size": len(characters), "itos": itos, "stoi": stoi}


def _split_ids(dataset_dict, stoi: dict) -> dict[str, np.ndarray]:
    ids = {}
    for split, file_name in SPLIT_FILES.items():
        if split not in dataset_dict:
            found = ", ".join(dataset_dict) or "none"
            raise UserError(f"dataset: no {split!r} split for {file_name} (splits: {found})")
        text = split_text(dataset_dict[split])
        ids[file_name] = np.array([stoi[ch] for ch in text], dtype=np.uint16)
    return ids


def _write_together(out_dir: Path, contents: dict[str, bytes]) -> None:
    """Write every file into a staging folder first, then move them in, so a failure leaves
    out_dir as it was (other files there, such as a prepare.py, are left alone)."""
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".nanogpt_export.", suffix=".tmp", dir=out_dir))
    try:
        for name, data in contents.items():
            (staging / name).write_bytes(data)
        for name in contents:
            os.replace(staging / name, out_dir / name)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staging)


def export_nanogpt(dataset_dict, out_dir: str | os.PathLike) -> dict:
    """Write meta.pkl, train.bin (train split) and val.bin (validation split) into out_dir.
    Returns the paths, vocab_size and token counts."""
    characters = dataset_vocabulary(dataset_dict)
    if len(characters) > UINT16_LIMIT:
        raise UserError(f"dataset: {len(characters)} characters do not fit nanoGPT's uint16 ids")
    meta = nanogpt_meta(characters)
    ids = _split_ids(dataset_dict, meta["stoi"])
    contents = {"meta.pkl": pickle.dumps(meta)}
    contents.update({name: array.tobytes() for name, array in ids.items()})
    out_dir = Path(out_dir)
    _write_together(out_dir, contents)
    return {
        "out_dir": str(out_dir),
        "meta": str(out_dir / "meta.pkl"),
        "train_bin": str(out_dir / "train.bin"),
        "val_bin": str(out_dir / "val.bin"),
        "vocab_size": meta["vocab_size"],
        "train_tokens": int(ids["train.bin"].size),
        "val_tokens": int(ids["val.bin"].size),
    }
