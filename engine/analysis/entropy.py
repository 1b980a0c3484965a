"""What a model that ignores context, or sees one character of it, would score on a corpus.

Both are exact entropies of the training split's own counts, in nats per character: the
unigram entropy H(X) and the bigram conditional entropy H(X_t | X_{t-1}). A char-RNN's
validation loss should end well below the second; if it does not, the model has learned
little more than character pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charrnn_tui.engine.data.corpus import TRAIN_FRACTION, split_at

LN2 = math.log(2)


@dataclass(frozen=True)
class ReferenceLosses:
    unigram: float  # nats/char
    bigram: float  # nats/char

    def lines(self) -> list[tuple[str, float]]:
        return [("unigram", self.unigram), ("bigram", self.bigram)]


def _entropy(counts: np.ndarray) -> float:
    counts = counts[counts > 0].astype(np.float64)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def unigram_entropy(ids: np.ndarray) -> float:
    """H(X) in nats of the character ids in `ids`."""
    if len(ids) == 0:
        return 0.0
    return _entropy(np.unique(ids, return_counts=True)[1])


def bigram_conditional_entropy(ids: np.ndarray) -> float:
    """H(X_t | X_{t-1}) in nats over the adjacent pairs of `ids`: H(pairs) − H(first chars).

    Pairs are coded as one int64 and counted with np.unique, so a large vocabulary costs
    memory in the number of distinct pairs, not vocab².
    """
    if len(ids) < 2:
        return 0.0
    a = ids[:-1].astype(np.int64)
    pairs = a * (int(ids.max()) + 1) + ids[1:]
    return _entropy(np.unique(pairs, return_counts=True)[1]) - unigram_entropy(a)


def reference_losses(data: np.ndarray, train_fraction: float = TRAIN_FRACTION) -> ReferenceLosses:
    """The two reference entropies of the training split of an encoded corpus."""
    train = data[:split_at(len(data), train_fraction)]
    return ReferenceLosses(unigram_entropy(train), bigram_conditional_entropy(train))
