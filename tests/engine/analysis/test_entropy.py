"""Reference entropies against a hand computation on a small text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from charrnn_tui.engine.analysis.entropy import (
    bigram_conditional_entropy,
    reference_losses,
    unigram_entropy,
)
from charrnn_tui.engine.data.corpus import encode_text


def test_unigram_and_bigram_match_a_hand_computation():
    # "abab" + "aa": counts a=4, b=2; pairs ab, ba, ab, ba, aa → from a: ab×2, aa×1;
    # from b: ba×2.
    ids = encode_text("ababaa", "t").data
    h1 = -(4 / 6 * math.log(4 / 6) + 2 / 6 * math.log(2 / 6))
    assert unigram_entropy(ids) == pytest.approx(h1)
    # H(next | a) = entropy of (2/3 b, 1/3 a); H(next | b) = 0; P(prev=a) = 3/5
    h_given_a = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert bigram_conditional_entropy(ids) == pytest.approx(3 / 5 * h_given_a)


def test_a_deterministic_successor_has_zero_conditional_entropy():
    ids = encode_text("abc" * 50, "t").data
    assert unigram_entropy(ids) == pytest.approx(math.log(3))
    assert bigram_conditional_entropy(ids) == pytest.approx(0.0, abs=1e-12)


def test_reference_losses_use_the_training_split_only():
    # the validation tenth is all 'z': it must not count
    data = encode_text("ab" * 45 + "z" * 10, "t").data
    ref = reference_losses(data, 0.9)
    assert ref.unigram == pytest.approx(math.log(2))
    assert ref.bigram == pytest.approx(0.0, abs=1e-12)


def test_large_vocabularies_do_not_need_a_vocab_squared_table():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 60_000, 5_000).astype(np.uint16)
    assert 0.0 <= bigram_conditional_entropy(ids) <= unigram_entropy(ids[:-1]) + 1e-9
