"""Truncated-BPTT batching: contiguous streams, shifted targets, chunk continuity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from charrnn_tui.engine.data.batching import StreamBatcher, as_tensors
from charrnn_tui.engine.data.corpus import CorpusError, min_corpus_chars


def _data(n: int) -> np.ndarray:
    return (np.arange(n) % 251).astype(np.uint8)


@pytest.mark.parametrize(("n", "batch", "seq"), [(100, 4, 5), (103, 3, 7), (64, 8, 1), (50, 1, 16)])
def test_chunks_per_epoch_formula(n, batch, seq):
    b = StreamBatcher(_data(n), batch, seq)
    stream_len = n // batch
    assert b.chunks_per_epoch == (stream_len - 1) // seq
    assert b.streams.shape == (batch, stream_len)
    assert len(list(b.epoch())) == b.chunks_per_epoch


def test_streams_are_contiguous_slices_of_the_data():
    data = _data(103)
    b = StreamBatcher(data, 4, 5)
    stream_len = 103 // 4
    for i in range(4):
        np.testing.assert_array_equal(b.streams[i], data[i * stream_len:(i + 1) * stream_len])


def test_targets_are_inputs_shifted_by_one_and_chunks_continue():
    data = np.arange(1000, dtype=np.uint16)  # value == position, so continuity is visible
    b = StreamBatcher(data, 4, 10)
    chunks = list(b.epoch())
    assert chunks[0].x.dtype == np.int64 and chunks[0].x.shape == (4, 10)
    for c in chunks:
        np.testing.assert_array_equal(c.y[:, :-1], c.x[:, 1:])
        np.testing.assert_array_equal(c.y, c.x + 1)
        assert c.count == b.chunks_per_epoch
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.index == prev.index + 1
        # chunk i+1 of each stream starts with the target of chunk i's last step
        np.testing.assert_array_equal(nxt.x[:, 0], prev.y[:, -1])
        np.testing.assert_array_equal(nxt.x[:, 0], prev.x[:, -1] + 1)
    assert chunks[0].x[:, 0].tolist() == [0, 250, 500, 750]


def test_epoch_can_start_midway():
    b = StreamBatcher(_data(200), 2, 8)
    rest = list(b.epoch(start=3))
    assert [c.index for c in rest] == list(range(3, b.chunks_per_epoch))
    np.testing.assert_array_equal(rest[0].x, b.chunk(3).x)


def test_minimum_size_is_exactly_batch_times_seq_plus_one():
    assert min_corpus_chars(4, 8) == 4 * (8 + 1)
    b = StreamBatcher(_data(36), 4, 8)  # exactly enough: one chunk
    assert b.chunks_per_epoch == 1
    with pytest.raises(CorpusError) as err:
        StreamBatcher(_data(35), 4, 8)
    msg = str(err.value)
    assert "35" in msg and "at least 36" in msg and "batch 4" in msg and "sequence 8 + 1" in msg


def test_minimum_message_formats_large_numbers():
    with pytest.raises(CorpusError, match=r"has 1,000 characters; .* needs at least 6,464"):
        StreamBatcher(_data(1000), 64, 100, what="validation")
    with pytest.raises(CorpusError, match="the validation split"):
        StreamBatcher(_data(10), 64, 100, what="validation")


def test_nonpositive_sizes_are_refused():
    with pytest.raises(CorpusError):
        StreamBatcher(_data(100), 0, 5)
    with pytest.raises(CorpusError):
        StreamBatcher(_data(100), 2, 0)


def test_as_tensors():
    c = StreamBatcher(_data(100), 2, 5).chunk(0)
    x, y = as_tensors(c, "cpu")
    assert x.dtype == torch.int64 and tuple(x.shape) == (2, 5)
    assert torch.equal(y, torch.from_numpy(c.y))
