"""On-the-fly GSSM training data: an endless stream of fresh sequences from fixed kernels.

    model = GSSM.from_seed(parse_graph(...), graph_seed=0)        # kernels fixed by graph_seed
    stream = GSSMStream(model, seq_len=2048, seed=0)
    loader = DataLoader(stream, batch_size=16)     # rows: {"input_ids": LongTensor (T,)}

The kernels come from graph_seed alone, so they match the builder's held-out validation split
(same config, same kernels, exact Bayes reference). Sequences are keyed by
(seed, epoch, distributed rank, DataLoader worker) and a running sequence index: ranks and
workers draw different sequences, and a given seed replays the same stream.
"""

from __future__ import annotations

import torch
from torch.utils.data import IterableDataset, get_worker_info

from latent_lab.tasks.gssm.model import GSSM, rng_key, sample_in_context

STREAM_TAG = 0x5743  # keeps stream keys apart from the builder's split keys


def _distributed_rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


class GSSMStream(IterableDataset):
    """Endless rows {"input_ids": int64 tensor of length seq_len}, sampled chunk_sequences at
    a time (one numba call per chunk). context=True: fresh kernels for every sequence."""

    def __init__(self, model: GSSM, seq_len: int, seed: int = 0, chunk_sequences: int = 16,
                 context: bool = False):  # fmt: skip
        if seq_len < 1 or chunk_sequences < 1:
            raise ValueError("seq_len and chunk_sequences must be >= 1")
        self.model = model
        self.seq_len = seq_len
        self.seed = seed
        self.chunk_sequences = chunk_sequences
        self.context = context
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Trainer calls this when it restarts the iterator: a new epoch gives new sequences."""
        self.epoch = epoch

    def stream_key(self) -> int:
        worker = get_worker_info()
        worker_id = 0 if worker is None else worker.id
        return rng_key(self.seed, STREAM_TAG, self.epoch, _distributed_rank(), worker_id)

    def __iter__(self):
        key = self.stream_key()
        first = 0
        while True:
            tokens = self.sample_chunk(key, first)
            for row in torch.from_numpy(tokens):
                yield {"input_ids": row}
            first += self.chunk_sequences

    def sample_chunk(self, key: int, first: int):
        if self.context:
            graph = self.model.graph
            return sample_in_context(graph, self.chunk_sequences, self.seq_len, key, first)
        return self.model.sample(self.chunk_sequences, self.seq_len, key, first_sequence=first)
