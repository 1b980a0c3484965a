"""Confidence, activations and unit ranking checked against direct computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from charrnn_tui.engine.generation.insight import Trace, rank_units, regex_mask, to_html, trace
from charrnn_tui.engine.models import ModelSpec, build_model

TEXT = 'he said "stop" and (then) left.\n"go" she said (quietly).\n'
VOCAB = sorted(set(TEXT))


@pytest.mark.parametrize("impl,cell,layers", [("torch", "lstm", 2), ("torch", "gru", 1),
                                              ("scratch", "lstm", 1), ("numpy", "rnn", 1)])
def test_trace_matches_a_direct_forward_pass(impl, cell, layers):
    model = build_model(ModelSpec(impl=impl, cell=cell, layers=layers, hidden=12, embed=6,
                                  vocab=VOCAB), seed=3)
    tr = trace(model, VOCAB, TEXT, context="")
    ids = [VOCAB.index(c) for c in TEXT]
    if impl == "numpy":
        logits, _ = model.forward(np.array([ids]), model.init_state(1))
        hs, _ = model._hidden_states(np.array([ids]), model.init_state(1))
        np.testing.assert_allclose(tr.acts["hidden"][:, 0], hs[0], atol=1e-6)
    else:
        model.eval()
        with torch.no_grad():
            logits, state = model(torch.tensor([ids]), model.init_state(1))
        logits = logits.double().numpy()
        final = model.layer_states(state)
        for kind, t in final.items():  # the last character's activations, every layer
            np.testing.assert_allclose(tr.acts[kind][-1], t[:, 0].numpy(), atol=1e-5)
    probs = np.exp(logits[0] - logits[0].max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(tr.next_probs, probs, atol=1e-5)
    # the confidence of character i is what the model predicted after character i-1
    np.testing.assert_allclose(tr.probs[1:], probs[np.arange(len(ids) - 1), ids[1:]], atol=1e-5)
    assert np.isnan(tr.probs[0])
    assert tr.candidates(0)[0][1] == pytest.approx(probs[0].max(), abs=1e-6)


def test_ranking_finds_the_unit_that_tracks_the_pattern():
    mask = regex_mask(TEXT, r'"[^"]*"')
    assert mask[TEXT.index('"stop"')] == 1 and mask[0] == 0
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(len(TEXT), 2, 8)).astype(np.float32) * 0.5
    acts[:, 1, 5] = mask * 0.8 + rng.normal(size=len(TEXT)) * 0.1  # the "quote cell"
    acts[:, 0, 2] = -mask + rng.normal(size=len(TEXT)) * 0.3  # an anti-correlated, noisier one
    tr = Trace(TEXT, VOCAB, np.zeros(len(TEXT)), np.zeros((len(TEXT), len(VOCAB))),
               {"hidden": acts})
    best = rank_units(tr, mask, top=3)
    assert (best[0].layer, best[0].unit) == (1, 5) and best[0].correlation > 0.9
    assert (best[1].layer, best[1].unit) == (0, 2) and best[1].correlation < -0.7


def test_bad_patterns_are_clear_errors():
    with pytest.raises(ValueError, match="regular expression"):
        regex_mask(TEXT, "(")
    tr = Trace("abc", list("abc"), np.zeros(3), np.zeros((3, 3)), {"hidden": np.zeros((3, 1, 2))})
    with pytest.raises(ValueError, match="everywhere or nowhere"):
        rank_units(tr, regex_mask("abc", "z"))


def test_html_export_colours_every_character():
    model = build_model(ModelSpec(impl="torch", cell="lstm", layers=1, hidden=8, embed=4,
                                  vocab=VOCAB))
    tr = trace(model, VOCAB, TEXT + "§")
    assert tr.skipped == ["§"]
    page = to_html(tr, "neuron", "cell", 0, 3)
    assert page.count("<span") == len(TEXT)
    assert "cell layer 0 unit 3" in page and "&quot;" in page
