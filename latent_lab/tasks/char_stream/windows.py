"""nanoGPT-style batches: random windows of block_size tokens from one long token stream."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from latent_lab.errors import UserError


def flat_tokens(split, column: str = "input_ids") -> np.ndarray:
    """A split's token lists joined into one stream, straight from Arrow (iterating the rows
    of a datasets Column takes minutes for a million tokens). The Arrow format gives the rows
    the split shows, so a select/shuffle/filter view reads its own rows."""
    import pyarrow.compute as pc

    table = split.select_columns(column).with_format("arrow")[:]
    values = pc.list_flatten(table.column(column))
    return values.to_numpy().astype(np.int64, copy=False)


class RandomWindows(Dataset):
    """`num_windows` windows at offsets drawn once from `seed`; item i is always the same window,
    so runs are reproducible and a distributed sampler can split them across processes."""

    def __init__(self, tokens: np.ndarray, block_size: int, num_windows: int, seed: int):
        if len(tokens) <= block_size:
            raise UserError(
                f"block_size {block_size} needs more than {len(tokens)} tokens of data; "
                "raise num_chars or lower block_size"
            )
        self.tokens = torch.as_tensor(np.asarray(tokens, dtype=np.int64))
        self.block_size = block_size
        rng = np.random.default_rng(seed)
        self.offsets = rng.integers(0, len(tokens) - block_size, size=num_windows)

    def __len__(self) -> int:
        return len(self.offsets)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start = int(self.offsets[index])
        window = self.tokens[start : start + self.block_size]
        # HF causal LMs shift labels themselves, so the first label predicts nothing: -100 there,
        # or Trainer's num_items_in_batch counts it and every reported loss is (T-1)/T too low.
        # The mask is all ones (nothing is padded; the newline is the tokenizer's pad): Trainer
        # counts training tokens by it.
        labels = window.clone()
        labels[0] = -100
        return {"input_ids": window, "attention_mask": torch.ones_like(window), "labels": labels}
