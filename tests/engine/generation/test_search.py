"""Best-of-N and beam search on the fast step: the same texts as single streams would give."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.generation.search import Candidate, beam_search, rank, sample_n
from charrnn_tui.engine.models import build_model


@pytest.fixture(scope="module")
def model():
    m = build_model(kit.spec("torch-lstm"), seed=2)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    return m.eval()


def test_n_streams_equal_n_single_streams_with_the_same_generators(model):
    sampler = Sampler(model, kit.ALPHABET)
    sampler.params.temperature, sampler.params.top_k = 1.2, 10
    many = sample_n(sampler, "the ", 5, 80, rng_seed=42)
    children = np.random.SeedSequence(42).spawn(5)
    for child, cand in zip(children, many, strict=True):
        single = Sampler(model, kit.ALPHABET)
        single.params.temperature, single.params.top_k = 1.2, 10
        single.rng = np.random.default_rng(child)
        assert single.generate("the ", 80) == cand.text
    assert len({c.text for c in many}) > 1  # independent streams, not one text five times


@pytest.mark.parametrize("length", [30, 300])  # 300: across a block of scoring
def test_scores_are_the_models_log_probabilities(model, length):
    cand = sample_n(Sampler(model, kit.ALPHABET), "the ", 1, length, rng_seed=1)[0]
    ids = [kit.ALPHABET.index(c) for c in "the " + cand.text]
    logits = torch.from_numpy(kit.logits_of(model, ids)[0])
    logp = torch.log_softmax(logits, -1)
    want = [-float(logp[3 + t, ids[4 + t]]) for t in range(length)]
    np.testing.assert_allclose(cand.surprise, want, atol=1e-4)
    assert cand.mean_logprob == pytest.approx(-sum(want) / length, abs=1e-5)
    ranked = rank([cand, sample_n(Sampler(model, kit.ALPHABET), "the ", 1, 30, rng_seed=2)[0]])
    assert ranked[0].logprob >= ranked[1].logprob


def test_beam_width_one_is_argmax(model):
    greedy = Sampler(model, kit.ALPHABET)
    greedy.params.argmax = True
    assert beam_search(Sampler(model, kit.ALPHABET), "the ", 1, 60)[0].text == \
        greedy.generate("the ", 60)


def test_wider_beams_find_texts_at_least_as_probable(model):
    one = beam_search(Sampler(model, kit.ALPHABET), "the ", 1, 40)[0]
    four = beam_search(Sampler(model, kit.ALPHABET), "the ", 4, 40)
    assert len(four) == 4 and four[0].logprob >= one.logprob - 1e-9
    assert [c.logprob for c in four] == sorted((c.logprob for c in four), reverse=True)


def configured(model, rng=None, **controls) -> Sampler:
    s = Sampler(model, kit.ALPHABET)
    for key, value in controls.items():
        setattr(s.params, key, value)
    if rng is not None:
        s.rng = rng
    return s


def test_beam_width_one_is_argmax_under_bans_bias_and_penalty(model):
    controls = {"ban": "e", "bias": {"o": 1.5}, "repetition_penalty": 2.0}
    greedy = configured(model, argmax=True, **controls)
    beam = beam_search(configured(model, **controls), "the ", 1, 80)[0]
    assert beam.text == greedy.generate("the ", 80) and "e" not in beam.text


def test_beams_never_hold_a_banned_character_and_report_the_models_own_surprise(model):
    found = beam_search(configured(model, ban="t e"), "the ", 4, 60)
    assert len(found) == 4 and not any(set(c.text) & set("t e") for c in found)
    ids = [kit.ALPHABET.index(c) for c in "the " + found[0].text]
    logp = torch.log_softmax(torch.from_numpy(kit.logits_of(model, ids)[0]), -1)
    want = [-float(logp[3 + t, ids[4 + t]]) for t in range(60)]
    np.testing.assert_allclose(found[0].surprise, want, atol=1e-4)


def test_a_beam_that_reaches_a_stop_string_finishes_and_ranks_by_mean(model):
    plain = beam_search(configured(model), "the ", 3, 120)
    stop = next(c for c in kit.ALPHABET if c in plain[0].text[5:])  # met after a while
    found = beam_search(configured(model, stop=(stop,)), "the ", 3, 120)
    assert len(found) == 3
    for cand in found:
        assert len(cand.text) == 120 or cand.text.endswith(stop)
        assert stop not in cand.text[:-1]  # finished at the first one
        assert len(cand.surprise) == len(cand.text)
    assert any(len(c.text) < 120 for c in found)
    means = [c.mean_logprob for c in found]
    assert means == sorted(means, reverse=True)  # equal to the adjusted score: no bias here


def test_a_beam_of_length_zero_is_one_empty_text(model):
    assert beam_search(configured(model), "the ", 3, 0) == [Candidate("", ())]


def test_a_beam_over_nan_logits_says_so_instead_of_an_empty_text():
    broken = build_model(kit.spec("torch-lstm"), seed=1).eval()
    with torch.no_grad():
        broken.head.bias.fill_(float("nan"))  # a diverged run's weights, still in memory
    with pytest.raises(CharRNNError, match="NaN"):
        beam_search(Sampler(broken, kit.ALPHABET), "the ", 3, 10)


def test_bad_sizes_are_refused(model):
    with pytest.raises(ValueError, match="at least 1"):
        sample_n(Sampler(model, kit.ALPHABET), "x", 0, 5)
    with pytest.raises(ValueError, match="at least 1"):
        beam_search(Sampler(model, kit.ALPHABET), "x", 0, 5)


def test_sample_command_writes_n_samples_or_a_beam_as_json(tmp_path, capsys):
    import json

    from charrnn_tui.cli import main
    from charrnn_tui.engine.storage import modelfile

    path = tmp_path / "m.safetensors"
    modelfile.save(path, kit.checkpoint("torch-lstm", seed=4))
    argv = ["--home", str(tmp_path / "home"), "sample", str(path), "--seed-text", "the ",
            "--length", "20", "--rng-seed", "3"]
    assert main([*argv, "--n", "3", "--json"]) == 0
    samples = json.loads(capsys.readouterr().out)["samples"]
    assert len(samples) == 3 and all(len(s["surprise"]) == 20 for s in samples)
    assert [s["logprob"] for s in samples] == sorted((s["logprob"] for s in samples),
                                                     reverse=True)
    assert main([*argv, "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("--- ") == 2 and "of 2: log-probability" in out
    with pytest.raises(SystemExit):
        main([*argv, "--n", "0"])
    assert "at least 1" in capsys.readouterr().err


def test_controls_hold_in_n_streams_as_in_one(model):
    def configured(rng=None) -> Sampler:
        s = Sampler(model, kit.ALPHABET)
        s.params.temperature, s.params.ban, s.params.stop = 1.5, "t", (".",)
        s.params.bias, s.params.repetition_penalty = {"o": 2.0}, 3.0
        if rng is not None:
            s.rng = rng
        return s

    many = sample_n(configured(), "the ", 4, 200, rng_seed=9)
    for child, cand in zip(np.random.SeedSequence(9).spawn(4), many, strict=True):
        assert configured(np.random.default_rng(child)).generate("the ", 200) == cand.text
        assert "t" not in cand.text
        assert cand.text.count(".") <= 1 and (len(cand.text) == 200 or
                                              cand.text.endswith("."))


def test_sample_command_controls_and_refusals(tmp_path, capsys):
    import json

    from charrnn_tui.cli import main
    from charrnn_tui.engine.storage import modelfile

    path = tmp_path / "m.safetensors"
    modelfile.save(path, kit.checkpoint("torch-lstm", seed=4))
    seed = tmp_path / "seed.txt"
    seed.write_text("the cat", encoding="utf-8")
    argv = ["--home", str(tmp_path / "home"), "sample", str(path), "--seed-file", str(seed),
            "--length", "300", "--rng-seed", "1", "--temperature", "2"]
    assert main([*argv, "--stop", "o", "--ban", r"\n"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("the cat") and out.rstrip("\n").endswith("o")
    assert "\n" not in out.rstrip("\n") and out.count("o") == out.count("o", 0, 7) + 1
    assert main([*argv, "--beam", "2", "--stop", "o", "--ban", "e", "--json"]) == 0
    beams = json.loads(capsys.readouterr().out)["samples"]
    assert len(beams) == 2
    for b in beams:
        assert "e" not in b["text"] and "o" not in b["text"][:-1]
        assert b["text"].endswith("o") or len(b["text"]) == 300
    for extra, needle in [(["--temperature", "nan"], "temperature"),
                          (["--top-p", "1.5"], "top-p"), (["--top-k", "-3"], "top-k"),
                          (["--length", "0"], "length"),
                          (["--repetition-penalty", "0.5"], "repetition penalty"),
                          (["--seed-file", str(tmp_path)], "not a regular file")]:
        try:
            code = main([*argv, *extra])
        except SystemExit as e:  # refused by the parser itself
            code = e.code
        assert code == 2
        err = capsys.readouterr().err.splitlines()[-1] + "\n"
        assert needle in err and "Traceback" not in err and err.count("\n") == 1, err
