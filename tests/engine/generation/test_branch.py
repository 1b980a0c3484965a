"""Branch from here: going back to any generated character gives the full forward's logits."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import kit

from charrnn_tui.engine.generation import trail
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams

VOCAB = kit.ALPHABET
_model = kit.perturbed_model
SEED = "the cat "


def _softmax(z: np.ndarray) -> np.ndarray:
    p = np.exp(z - z.max())
    return p / p.sum()


@pytest.mark.parametrize("kind", ["torch-lstm", "torch-gru", "scratch-lstm", "numpy"])
def test_alternatives_and_branch_match_the_full_forward(kind):
    model = _model(kind)
    s = Sampler(model, VOCAB, rng_seed=1, params=SamplingParams(temperature=1.5))
    s.prime(SEED)
    start = len(s.trail.ids)
    text = "".join(s.stream(70))
    ids = [VOCAB.index(c) for c in SEED + text]
    for pos in (start, start + 1, start + 17, start + 69):  # on, just after and between marks
        full = _softmax(kit.logits_of(model, ids[:pos])[0, -1])
        alts = s.alternatives(pos, k=5)
        assert [i for i, _ in alts] == list(np.argsort(-full, kind="stable")[:5])
        np.testing.assert_allclose([p for _, p in alts], np.sort(full)[::-1][:5], atol=1e-5)
    assert s.trail.ids == ids, "looking at alternatives changes nothing"

    pos, other = start + 30, (ids[start + 30] + 1) % len(VOCAB)
    assert s.branch(pos, other) == VOCAB[other]
    assert s.trail.ids == ids[:pos] + [other]
    np.testing.assert_allclose(s.logits, kit.logits_of(model, ids[:pos] + [other])[0, -1],
                               atol=1e-5)
    more = "".join(s.stream(20))  # and on from there, with branching still possible
    after = ids[:pos] + [other] + [VOCAB.index(c) for c in more]
    np.testing.assert_allclose(s.alternatives(len(after) - 1, k=len(VOCAB))[0][1],
                               _softmax(kit.logits_of(model, after[:-1])[0, -1]).max(),
                               atol=1e-5)


def test_branch_keeps_the_repetition_window_and_stop_tail():
    s = Sampler(_model("torch-lstm"), VOCAB, rng_seed=2,
                params=SamplingParams(repetition_penalty=2.0, repetition_window=5))
    s.prime(SEED)
    start = len(s.trail.ids)
    text = "".join(s.stream(40))
    s.branch(start + 20, VOCAB.index("x") if "x" in VOCAB else 0)
    kept = (SEED + text[:20] + s.vocab[s.trail.ids[-1]])
    assert list(s.recent) == [VOCAB.index(c) for c in kept[-5:]]
    assert s.tail == kept[-64:]


def test_too_far_back_is_refused(monkeypatch):
    monkeypatch.setattr(trail, "MAX_MARKS", 3)
    s = Sampler(_model("torch-gru"), VOCAB, rng_seed=3)
    s.prime(SEED)
    "".join(s.stream(trail.EVERY * 5))
    with pytest.raises(ValueError, match="no longer kept"):
        s.alternatives(len(SEED))
    assert s.alternatives(len(s.trail.ids) - 1)
    with pytest.raises(ValueError):
        s.alternatives(len(s.trail.ids) + 1)


