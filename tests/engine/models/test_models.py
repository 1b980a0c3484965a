"""The three implementations: gradients, cross-implementation equivalence, vocabulary growth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.data.corpus import encode_text
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models import (
    IMPLEMENTATIONS,
    LibraryRNN,
    ModelSpec,
    NumpyRNN,
    ScratchRNN,
    build_model,
    count_parameters,
    expected_shapes,
    family_of,
    load_tensors,
    restore_model,
    step_logits,
    tensors_of,
)
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.engine.training.vocab import VocabError, extend, fit_corpus, new_characters, remap

VOCAB = list("abcdefg")


# --- numpy gradients ---------------------------------------------------------------------

def test_numpy_gradients_match_central_differences():
    spec = ModelSpec(impl="numpy", cell="rnn", layers=1, hidden=6, vocab=VOCAB)
    model = NumpyRNN(spec, seed=3)
    rng = np.random.default_rng(0)
    for k in model.params:  # larger weights than the init so every gradient is sizeable
        model.params[k] = rng.standard_normal(model.params[k].shape) * 0.5
    x = rng.integers(0, len(VOCAB), (3, 5))
    y = rng.integers(0, len(VOCAB), (3, 5))
    h0 = rng.standard_normal((3, 6)) * 0.3
    loss, grads, _ = model.loss_and_grads(x, y, h0)
    assert set(grads) == {"Wxh", "Whh", "Why", "bh", "by"}
    eps = 1e-6
    for name, p in model.params.items():
        assert p.dtype == np.float64
        numeric = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            plus = model.loss_and_grads(x, y, h0)[0]
            p[idx] = old - eps
            minus = model.loss_and_grads(x, y, h0)[0]
            p[idx] = old
            numeric[idx] = (plus - minus) / (2 * eps)
        analytic = grads[name]
        rel = np.linalg.norm(analytic - numeric) / (
            np.linalg.norm(analytic) + np.linalg.norm(numeric))
        assert rel < 1e-5, f"{name}: relative error {rel:.2e}"
        assert np.abs(numeric).max() > 1e-4, f"{name}: gradient too small to check"
    assert loss == pytest.approx(model.loss_and_grads(x, y, h0)[0])


def test_numpy_train_step_lowers_the_loss_and_skips_nonfinite():
    spec = ModelSpec(impl="numpy", cell="rnn", layers=1, hidden=8, vocab=VOCAB)
    model = NumpyRNN(spec, seed=1)
    x = np.array([[0, 1, 2, 3, 4, 5]])
    y = np.array([[1, 2, 3, 4, 5, 6]])
    h = model.init_state(1)
    first = model.train_step(x, y, h, 0.1)[0]
    for _ in range(30):
        model.train_step(x, y, h, 0.1)
    assert model.loss_and_grads(x, y, h)[0] < first - 0.5
    model.params["Why"][0, 0] = np.inf
    before = {k: v.copy() for k, v in model.params.items()}
    with np.errstate(all="ignore"):
        _, _, finite = model.train_step(x, y, h, 0.1)
    assert not finite
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])


# --- cross-implementation equivalence ----------------------------------------------------

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def _library_from_scratch(scratch: ScratchRNN) -> LibraryRNN:
    """A 1-layer LibraryRNN computing exactly what `scratch` computes."""
    s = scratch.spec
    g = _GATES[s.cell] * s.hidden
    lib = LibraryRNN(ModelSpec(impl="torch", cell=s.cell, layers=1, hidden=s.hidden, embed=g,
                               vocab=s.vocab))
    with torch.no_grad():
        lib.embed.weight.copy_(scratch.W_input)
        lib.rnn.weight_ih_l0.copy_(torch.eye(g))
        lib.rnn.bias_ih_l0.copy_(scratch.b_hidden)
        lib.rnn.weight_hh_l0.copy_(scratch.W_hidden.T)
        lib.rnn.bias_hh_l0.zero_()
        lib.head.weight.copy_(scratch.W_softmax.T)
        lib.head.bias.copy_(scratch.b_softmax)
    return lib


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_scratch_and_library_agree_given_the_same_weights(cell):
    spec = ModelSpec(impl="scratch", cell=cell, layers=1, hidden=5, vocab=VOCAB)
    scratch = build_model(spec, seed=4)
    with torch.no_grad():  # non-zero biases so the bias mapping is exercised too
        scratch.b_hidden.normal_(0, 0.5)
        scratch.b_softmax.normal_(0, 0.5)
    lib = _library_from_scratch(scratch)
    x = torch.tensor([[0, 3, 1, 6, 2, 2, 5], [4, 4, 0, 1, 6, 3, 2]])
    with torch.no_grad():
        a, sa = scratch(x, scratch.init_state(2))
        b, sb = lib(x, lib.init_state(2))
    assert a.shape == b.shape == (2, 7, len(VOCAB))
    assert a.abs().max() > 0.1
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    ha = sa[0] if isinstance(sa, tuple) else sa
    hb = sb[0] if isinstance(sb, tuple) else sb
    torch.testing.assert_close(ha, hb[0], atol=1e-5, rtol=1e-5)


def test_numpy_and_scratch_agree_on_the_loss():
    spec = ModelSpec(impl="scratch", cell="rnn", layers=1, hidden=6, vocab=VOCAB)
    scratch = build_model(spec, seed=5)
    with torch.no_grad():
        scratch.b_hidden.normal_(0, 0.3)
        scratch.b_softmax.normal_(0, 0.3)
    np_model = NumpyRNN(ModelSpec(impl="numpy", cell="rnn", layers=1, hidden=6, vocab=VOCAB))
    w = {k: v.detach().double().numpy() for k, v in scratch.named_parameters()}
    np_model.params = {"Wxh": w["W_input"].T.copy(), "Whh": w["W_hidden"].T.copy(),
                       "bh": w["b_hidden"].copy(), "Why": w["W_softmax"].T.copy(),
                       "by": w["b_softmax"].copy()}
    rng = np.random.default_rng(2)
    x = rng.integers(0, len(VOCAB), (3, 9))
    y = rng.integers(0, len(VOCAB), (3, 9))
    np_loss = np_model.loss_and_grads(x, y, np_model.init_state(3))[0]
    logits, _ = scratch(torch.from_numpy(x), scratch.init_state(3))
    torch_loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1),
                                                   torch.from_numpy(y).flatten())
    assert np_loss == pytest.approx(float(torch_loss.detach()), rel=1e-5)
    assert np_loss > 0.5  # not trivially zero


# --- shapes, counting, stepping ------------------------------------------------------------

@pytest.mark.parametrize("kind", list(kit.SPECS))
def test_expected_shapes_match_built_models(kind):
    spec = kit.spec(kind, VOCAB)
    model = build_model(spec)
    shapes = {k: tuple(v.shape) for k, v in tensors_of(model).items()}
    assert shapes == expected_shapes(spec)
    assert count_parameters(spec) == sum(int(np.prod(s)) for s in shapes.values())


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_each_implementation_has_a_family_whose_vocabulary_axes_follow_the_vocabulary(impl):
    spec = kit.spec(impl, VOCAB)
    family = family_of(spec)
    assert family.name == impl
    shapes = family.shapes(spec)
    grown = family.shapes(ModelSpec.from_dict(spec.to_dict() | {"vocab": VOCAB + ["z"]}))
    for name, shape in shapes.items():  # exactly the named axes grow with the vocabulary
        changed = [a for a, (n, m) in enumerate(zip(shape, grown[name], strict=True)) if n != m]
        assert changed == ([family.vocab_axes[name]] if name in family.vocab_axes else [])
    with pytest.raises(ConfigError, match="implementation must be one of"):
        family_of("jax")


@pytest.mark.parametrize("kind", list(kit.IMPLS))
def test_step_logits_equals_a_full_forward(kind):
    model = build_model(kit.spec(kind, VOCAB), seed=2)
    ids = [0, 3, 5, 1, 2]
    full = kit.logits_of(model, ids)[0]
    state = model.init_state(1)
    for t, i in enumerate(ids):
        logits, state = step_logits(model, i, state)
        assert logits.dtype == np.float64
        np.testing.assert_allclose(logits, full[t], rtol=1e-5, atol=1e-6)


def test_build_model_is_seeded():
    spec = kit.spec("torch", VOCAB)
    a, b, c = build_model(spec, 1), build_model(spec, 1), build_model(spec, 2)
    ta, tb, tc = tensors_of(a), tensors_of(b), tensors_of(c)
    assert all(torch.equal(ta[k], tb[k]) for k in ta)
    assert not all(torch.equal(ta[k], tc[k]) for k in ta)


@pytest.mark.parametrize(("over", "match"), [
    ({"impl": "numpy", "cell": "lstm"}, "only the vanilla"),
    ({"impl": "scratch", "layers": 2}, "exactly 1 layer"),
    ({"impl": "jax"}, "implementation must be"),
    ({"hidden": 0}, "hidden size"),
    ({"dropout": 1.0}, "dropout"),
    ({"vocab": ["a"]}, "at least 2 distinct"),
    ({"vocab": ["a", "a", "b"]}, "at least 2 distinct"),
    ({"vocab": ["ab", "c"]}, "single characters"),
])
def test_spec_validation(over, match):
    fields = dict(impl="torch", cell="lstm", layers=1, hidden=8, embed=4, vocab=VOCAB) | over
    with pytest.raises(ValueError, match=match):
        ModelSpec(**fields).validate()


# --- vocabulary fitting (engine/training/vocab.py) -----------------------------------------

def _ckpt(kind: str, vocab=VOCAB):
    return kit.checkpoint(kind, list(vocab), seed=1)


def test_fit_corpus_refuse_lists_the_unknown_characters():
    corpus = encode_text("abc XYZ abc")
    assert new_characters(corpus, VOCAB) == [" ", "X", "Y", "Z"]
    with pytest.raises(VocabError) as err:
        fit_corpus(_ckpt("torch"), corpus, "refuse")
    msg = str(err.value)
    assert "4 character(s)" in msg
    for ch in (" ", "X", "Y", "Z"):
        assert repr(ch) in msg


def test_fit_corpus_known_characters_are_remapped_to_the_model_vocab():
    corpus = encode_text("gab")  # corpus vocab a,b,g -> ids 0,1,2; model ids 0,1,6
    ckpt, data, notice = fit_corpus(_ckpt("torch"), corpus)
    assert notice is None and ckpt.spec.vocab == VOCAB
    assert data.tolist() == [6, 0, 1]


def test_fit_corpus_map_replaces_with_the_given_or_default_character():
    corpus = encode_text("abXc")
    _, data, notice = fit_corpus(_ckpt("torch"), corpus, "map", "g")
    assert data.tolist() == [0, 1, 6, 2]
    assert "'X'" in notice and "'g'" in notice
    _, data, _ = fit_corpus(_ckpt("torch", list(" abc")), corpus, "map")
    assert data.tolist() == [1, 2, 0, 3]  # default replacement is the space (id 0 in " abc")
    with pytest.raises(VocabError, match="not in the model's vocabulary"):
        fit_corpus(_ckpt("torch"), corpus, "map", "Q")
    with pytest.raises(ValueError, match="policy"):
        fit_corpus(_ckpt("torch"), corpus, "guess")


def test_remap_uses_uint16_for_big_vocab():
    vocab = [chr(0x100 + i) for i in range(300)]
    corpus = encode_text(vocab[299] + vocab[0])
    assert remap(corpus, vocab).tolist() == [299, 0]
    assert remap(corpus, vocab).dtype == np.uint16


@pytest.mark.parametrize("kind", ["torch", "scratch", "numpy"])
def test_extend_grows_vocab_rows_keeping_old_ones_and_trains(kind):
    old = _ckpt(kind)
    corpus = encode_text(("abcdefg" + "XY") * 30)
    grown, data, notice = fit_corpus(old, corpus, "extend")
    assert grown.spec.vocab == VOCAB + ["X", "Y"]
    assert "2 character(s)" in notice
    assert grown.optim_tensors == {}
    shapes = expected_shapes(grown.spec)
    assert {k: tuple(v.shape) for k, v in grown.tensors.items()} == shapes
    v = len(VOCAB)
    for name, t in old.tensors.items():
        g = grown.tensors[name]
        if g.shape == t.shape:
            assert torch.equal(g, t), name
            continue
        axis = next(i for i, (a, b) in enumerate(zip(g.shape, t.shape, strict=True)) if a != b)
        assert g.shape[axis] == v + 2 and t.shape[axis] == v
        assert torch.equal(g.narrow(axis, 0, v), t), f"{name}: old rows changed"
        assert torch.isfinite(g).all()
    assert data.max() == v + 1  # 'Y' is the last id
    model = restore_model(grown)
    before = {k: t.clone() for k, t in tensors_of(model).items()}
    done = Trainer(model, data, kit.config(max_steps=5)).run()
    assert done.step == 5 and np.isfinite(done.val_loss)
    after = tensors_of(model)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_extend_with_nothing_new_is_identity():
    ck = _ckpt("torch")
    assert extend(ck, []) is ck


def test_load_tensors_round_trip_numpy():
    spec = kit.spec("numpy", VOCAB)
    a, b = build_model(spec, 1), build_model(spec, 2)
    load_tensors(b, tensors_of(a))
    for k in a.params:
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-6)
        assert b.params[k].dtype == np.float64
