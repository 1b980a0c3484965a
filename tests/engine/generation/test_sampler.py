"""Streaming generation: determinism, seeds, live parameter changes, filters, priming."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.generation.sampler import (
    MIN_TEMPERATURE,
    Sampler,
    SamplingParams,
    next_distribution,
    unknown_chars,
)
from charrnn_tui.engine.models import build_model

VOCAB = kit.ALPHABET


def _model(kind="torch", sharpen: float = 1.0, seed: int = 5):
    """An untrained model; `sharpen` scales its output layer so logits have wide gaps."""
    model = build_model(kit.spec(kind, VOCAB), seed)
    if kind == "numpy":
        model.params["Why"] *= sharpen * 100  # numpy weights start 100× smaller
        model.params["Wxh"] *= 100
        model.params["Whh"] *= 100
    elif kind == "torch":
        with torch.no_grad():
            model.head.weight.mul_(sharpen)
    else:
        with torch.no_grad():
            model.W_softmax.mul_(sharpen)
    return model


def _argmax_text(model, seed_text: str, n: int) -> str:
    s = Sampler(model, VOCAB, params=SamplingParams(argmax=True))
    return s.generate(seed_text, n)


@pytest.mark.parametrize("kind", ["torch", "scratch", "numpy"])
def test_argmax_is_deterministic_and_greedy(kind):
    model = _model(kind)
    a = _argmax_text(model, "the ", 40)
    assert a == _argmax_text(model, "the ", 40)
    assert len(a) == 40 and set(a) <= set(VOCAB)
    s = Sampler(model, VOCAB, params=SamplingParams(argmax=True))
    s.prime("the ")
    for _ in range(10):
        expect = VOCAB[int(np.argmax(s.logits))]
        assert s.next_char() == expect
        assert s.last_probs.max() == 1.0


@pytest.mark.parametrize("kind", ["torch", "numpy"])
def test_same_rng_seed_gives_same_text_and_other_seeds_differ(kind):
    model = _model(kind)
    params = SamplingParams(temperature=1.5)

    def text(seed):
        return Sampler(model, VOCAB, rng_seed=seed, params=params).generate("a", 60)

    assert text(1) == text(1)
    assert text(1) != text(2)


def test_temperature_change_mid_stream_takes_effect():
    model = _model("torch", sharpen=10.0)
    params = SamplingParams(temperature=2.0)
    s = Sampler(model, VOCAB, rng_seed=0, params=params)
    s.prime("the ")
    head = "".join(s.stream(30))
    assert head != _argmax_text(model, "the ", 30)  # hot sampling is not greedy
    params.temperature = 0.1  # changed from "another thread" between characters
    for _ in range(5):
        logits = s.logits.astype(np.float64)  # a copy: the step reuses its buffer
        s.next_char()
        np.testing.assert_allclose(s.last_probs,
                                   next_distribution(logits, SamplingParams(temperature=0.1)))
        hot = next_distribution(logits, SamplingParams(temperature=2.0))
        assert s.last_probs.max() > hot.max()


@pytest.mark.parametrize("switch", [{"argmax": True}, {"top_k": 1}, {"top_p": 1e-9}])
def test_switching_to_greedy_mid_stream_continues_like_argmax(switch):
    model = _model("torch", sharpen=10.0)
    params = SamplingParams(temperature=1.5)
    s = Sampler(model, VOCAB, rng_seed=2, params=params)
    s.prime("the ")
    head = "".join(s.stream(25))
    for key, value in switch.items():
        setattr(params, key, value)
    tail = "".join(s.stream(30))
    assert tail == _argmax_text(model, "the " + head, 30)
    assert head + tail != _argmax_text(model, "the ", 55)


def test_top_k_one_and_tiny_top_p_equal_argmax():
    model = _model("torch", sharpen=1.0)
    greedy = _argmax_text(model, "on ", 40)
    for params in (SamplingParams(temperature=2.0, top_k=1),
                   SamplingParams(temperature=2.0, top_p=1e-9)):
        got = Sampler(model, VOCAB, rng_seed=9, params=params).generate("on ", 40)
        assert got == greedy


def test_next_distribution_properties():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(30) * 3
    for params in (SamplingParams(), SamplingParams(temperature=0.0),
                   SamplingParams(temperature=100.0), SamplingParams(top_k=5),
                   SamplingParams(top_p=0.5), SamplingParams(top_k=3, top_p=0.9),
                   SamplingParams(argmax=True)):
        p = next_distribution(logits, params)
        assert p.shape == logits.shape and (p >= 0).all()
        assert p.sum() == pytest.approx(1.0)
    assert np.count_nonzero(next_distribution(logits, SamplingParams(top_k=5))) == 5
    nucleus = next_distribution(logits, SamplingParams(temperature=1.0, top_p=0.5))
    full = next_distribution(logits, SamplingParams(temperature=1.0))
    kept = np.flatnonzero(nucleus)
    order = np.argsort(-full)
    assert set(kept) == set(order[:len(kept)])  # the most likely ones
    assert full[order[:len(kept)]].sum() >= 0.5 > full[order[:len(kept) - 1]].sum()
    # temperature is clamped rather than dividing by zero
    cold = next_distribution(logits, SamplingParams(temperature=0.0))
    np.testing.assert_allclose(cold, next_distribution(
        logits, SamplingParams(temperature=MIN_TEMPERATURE)))
    hot = next_distribution(logits, SamplingParams(temperature=100.0))
    assert hot.max() < full.max()


def test_min_p_keeps_the_characters_at_least_that_fraction_as_likely_as_the_likeliest():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    p = next_distribution(logits, SamplingParams(temperature=1.0, min_p=0.2))
    np.testing.assert_allclose(p, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0])
    model = _model("torch", sharpen=1.0)
    for params in (SamplingParams(temperature=2.0, min_p=1.0),  # the likeliest alone
                   SamplingParams(temperature=2.0, min_p=1.0, bias={"o": 0.0})):
        got = Sampler(model, VOCAB, rng_seed=9, params=params).generate("on ", 40)
        assert got == _argmax_text(model, "on ", 40)
    # what min-p drops is never drawn in a stream
    sampler = Sampler(model, VOCAB, rng_seed=3, params=SamplingParams(min_p=0.3))
    sampler.prime("on ")
    allowed = np.flatnonzero(next_distribution(sampler.logits, SamplingParams(min_p=0.3)))
    assert sampler.vocab.index(sampler.next_char()) in allowed


def test_unknown_seed_characters_are_reported_not_raised():
    assert unknown_chars("héllo☃é", VOCAB) == ["é", "☃"]
    s = Sampler(_model(), VOCAB, rng_seed=1)
    assert s.prime("Zat☃") == ["Z", "☃"]
    assert s.skipped == ["Z", "☃"]
    assert len("".join(s.stream(5))) == 5
    t = Sampler(_model(), VOCAB)
    assert t.prime("☃☃") == ["☃"]  # nothing known: starts as after a line break
    ref = Sampler(_model(), VOCAB)
    ref.prime("\n")
    np.testing.assert_allclose(t.logits, ref.logits)


def test_generation_without_priming_starts_itself():
    s = Sampler(_model(), VOCAB, rng_seed=3)
    assert len(s.next_char()) == 1


@pytest.mark.parametrize("kind", ["torch", "scratch", "numpy"])
def test_incremental_generation_equals_rerunning_the_prefix(kind):
    model = _model(kind)
    s = Sampler(model, VOCAB, rng_seed=4, params=SamplingParams(temperature=1.0))
    s.prime("abc")
    generated = "".join(s.stream(25))
    fresh = Sampler(model, VOCAB)
    fresh.prime("abc" + generated)
    np.testing.assert_allclose(s.logits, fresh.logits, rtol=1e-5, atol=1e-5)
    only_seed = Sampler(model, VOCAB)
    only_seed.prime("abc")
    assert not np.allclose(s.logits, only_seed.logits, rtol=1e-5, atol=1e-5)


def test_feed_advances_like_priming():
    model = _model()
    a, b = Sampler(model, VOCAB), Sampler(model, VOCAB)
    a.prime("the c")
    b.prime("the")
    b.feed([VOCAB.index(" "), VOCAB.index("c")])
    np.testing.assert_allclose(a.logits, b.logits, rtol=1e-5, atol=1e-6)


def test_stop_strings_bans_bias_and_repetition_penalty():
    from charrnn_tui.engine.generation.sampler import Sampler
    from charrnn_tui.engine.models import build_model

    model = build_model(kit.spec("torch"), seed=1)
    s = Sampler(model, kit.ALPHABET, rng_seed=0)
    s.params.temperature, s.params.stop, s.params.ban = 2.0, ("a",), "e"
    text = s.generate("th", 500)
    assert text.endswith("a") and "a" not in text[:-1] and "e" not in text
    s.params.stop, s.params.ban = (), ""
    s.params.bias = {"o": 100.0}  # a bias this large makes "o" all but certain
    assert s.generate("th", 20) == "o" * 20
    s.params.bias, s.params.repetition_penalty, s.params.repetition_window = {}, 10.0, 8
    s.params.argmax = True  # greedy: without the penalty it would repeat itself
    text = s.generate("the cat ", 40)
    assert all(len(set(text[i:i + 8])) >= 4 for i in range(0, 32))


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("temperature", -1.0, "temperature"), ("temperature", float("nan"), "temperature"),
    ("top_k", -3, "top-k"), ("top_p", 1.5, "top-p"), ("top_p", 0.0, "top-p"),
    ("min_p", -0.1, "min-p"), ("min_p", 1.5, "min-p"), ("min_p", float("nan"), "min-p"),
    ("repetition_penalty", 0.5, "repetition penalty"), ("stop", ("",), "stop string"),
    ("bias", {"a": float("inf")}, "logit bias"), ("repetition_window", 0, "window"),
])
def test_out_of_range_sampling_values_are_refused(field, value, needle):
    from charrnn_tui.engine.generation.sampler import SamplingParams

    with pytest.raises(ValueError, match=needle):
        SamplingParams(**{field: value}).validate()


@pytest.mark.parametrize("kind", ["torch", "scratch", "numpy"])
def test_no_logit_exceeds_the_steppers_bound(kind):
    sampler = Sampler(_model(kind, sharpen=30.0), VOCAB, rng_seed=1)
    bound = sampler.stepper.logit_bound
    sampler.prime("the ")
    worst = 0.0
    for _ in range(300):
        sampler.next_char()
        worst = max(worst, float(np.abs(sampler.logits).max()))
    assert 0 < worst <= bound


@pytest.mark.parametrize("temperature", [0.05, 0.7, 2.0])
def test_plain_sampling_draws_the_same_with_or_without_subtracting_the_maximum(temperature):
    """The bound lets plain sampling skip subtracting the maximum where exp cannot
    overflow: the same ids as the careful way, and no overflow where it could."""
    from charrnn_tui.engine.generation.draw import Chooser

    for sharpen in (1.0, 500.0):  # 500: logits past what exp survives at low temperature
        sampler = Sampler(_model("torch", sharpen), VOCAB)
        sampler.prime("the ")
        params = SamplingParams(temperature=temperature)
        fast = Chooser(VOCAB, sampler.stepper.logit_bound)
        careful = Chooser(VOCAB)
        uniforms = np.random.default_rng(0).random(400)
        for u in uniforms:
            a = fast.choose_one(sampler.logits, params, u)
            assert a == careful.choose_one(sampler.logits, params, u)
            assert np.isfinite(fast.distribution()).all()
            sampler._take(a)
