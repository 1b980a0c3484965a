"""Truncated-BPTT batching: parallel streams walked a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from charrnn_tui.engine.data.corpus import CorpusError, min_corpus_chars


@dataclass(frozen=True)
class Chunk:
    """Inputs and next-character targets for chunk `index` of `count` in one epoch."""

    x: np.ndarray  # (batch, seq) int64
    y: np.ndarray  # (batch, seq) int64
    index: int
    count: int


class StreamBatcher:
    """Cut `data` into `batch_size` contiguous streams and walk them `seq_len` at a time.

    Chunk i of every stream continues where chunk i-1 ended, so the hidden state a
    stream ends a chunk with is the right initial state for its next chunk.
    """

    def __init__(self, data: np.ndarray, batch_size: int, seq_len: int, *,
                 what: str = "training", rank: int = 0, world: int = 1):
        if batch_size < 1 or seq_len < 1:
            raise CorpusError("batch size and sequence length must be at least 1")
        if batch_size % world:
            raise CorpusError(f"batch {batch_size} does not split evenly over {world} processes")
        need = min_corpus_chars(batch_size, seq_len)
        if len(data) < need:
            raise CorpusError(
                f"the {what} split has {len(data):,} characters; batch {batch_size} × "
                f"(sequence {seq_len} + 1) needs at least {need:,}"
            )
        stream_len = len(data) // batch_size
        # Under data parallelism each rank walks its own disjoint block of the streams.
        per_rank = batch_size // world
        streams = data[: batch_size * stream_len].reshape(batch_size, stream_len)
        self.streams = streams[rank * per_rank: (rank + 1) * per_rank]
        self.batch_size = per_rank
        self.seq_len = seq_len
        self.chunks_per_epoch = (stream_len - 1) // seq_len

    def chunk(self, index: int) -> Chunk:
        start = index * self.seq_len
        window = self.streams[:, start: start + self.seq_len + 1].astype(np.int64)
        return Chunk(window[:, :-1], window[:, 1:], index, self.chunks_per_epoch)

    def epoch(self, start: int = 0) -> Iterator[Chunk]:
        for i in range(start, self.chunks_per_epoch):
            yield self.chunk(i)


def as_tensors(chunk: Chunk, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    return (torch.from_numpy(chunk.x).to(device, non_blocking=True),
            torch.from_numpy(chunk.y).to(device, non_blocking=True))
