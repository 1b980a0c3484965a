"""Issue 19, item 6 and the bounds of item 9: nothing the user or a model file gives can make
training, reading a corpus, evaluating or priming run without end or without a memory bound."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from helpers import kit

from charrnn_tui.cli import main
from charrnn_tui.engine.data import corpus as corpus_module
from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.models import build_model
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training import evaluate
from charrnn_tui.engine.training.evaluate import mean_cross_entropy


def _blow_up(model, scale: float = 3e37) -> None:
    """Weights near float32's limit: finite, so a file of them loads, but every step of
    this tiny GRU overflows (found by trying scales; 1e37 still trains)."""
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)


def test_non_finite_rollbacks_give_up(tmp_path):
    trainer = kit.trainer("torch-gru", max_steps=1000)
    _blow_up(trainer.model, float("inf"))
    trainer._last_good = trainer.backend.snapshot()
    notices = []
    done = trainer.run(lambda e: notices.append(getattr(e, "message", "")))
    assert done.reason == "diverged" and done.step == 0
    assert any("still not finite after 3 rollbacks" in n for n in notices)


def test_cli_resume_of_a_diverging_model_ends_non_zero(tmp_path, capsys):
    home = tmp_path / "home"
    corpus = kit.write_text(tmp_path / "tiny.txt")
    trainer = kit.trainer("torch-gru")
    _blow_up(trainer.model)
    trainer.corpus_info = {"name": "tiny.txt", "source": str(corpus)}
    store = ModelStore(home / "models")
    store.create("big")
    store.save(trainer.checkpoint(), "big")
    store.release("big")
    code = main(["--home", str(home), "train", "--resume", "big", "--max-steps", "1000",
                 "--batch", "4", "--seq", "8", "--json"])
    assert code == 1 and "gave up" in capsys.readouterr().err
    assert main(["--home", str(home), "eval", "big", str(corpus)]) == 1  # NaN: no JSON NaN
    out = capsys.readouterr().out
    assert '"nats_per_char": null' in out and "NaN" not in out and "Infinity" not in out


@pytest.mark.parametrize("argv", [
    ["train", "c.txt", "--time-budget", "nan"], ["train", "c.txt", "--time-budget", "inf"],
    ["train", "c.txt", "--time-budget", "0"], ["train", "c.txt", "--time-budget", "-1"],
    ["train", "c.txt", "--epochs", "nan"], ["train", "c.txt", "--epochs", "-1"],
    ["train", "c.txt", "--max-steps", "-1"], ["train", "c.txt", "--max-steps", "0"],
    ["train", "c.txt", "--device", "foo"], ["train", "c.txt", "--device", "meta"],
    ["train", "c.txt", "--threads", "-1"], ["train", "c.txt", "--lr", "nan"],
    ["sample", "m", "--temperature", "nan"], ["sample", "m", "--top-p", "2"],
    ["sample", "m", "--length", "-5"],
])
def test_bad_numbers_and_devices_are_refused_by_the_parser(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(tmp_path / "home"), *argv])
    assert exit_.value.code == 2
    assert "error: argument" in capsys.readouterr().err
    assert not (tmp_path / "home" / "models").exists() or not any(
        (tmp_path / "home" / "models").iterdir())


def test_fifo_and_devices_are_refused_at_once_in_the_cli(tmp_path):
    """Run as the user would; a FIFO opened for reading would block, so: a subprocess."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    script = textwrap.dedent(f"""
        from charrnn_tui.cli import main
        home = {str(tmp_path / "home")!r}
        for argv in (["train", {str(fifo)!r}], ["train", "/dev/zero"],
                     ["eval", "shakespeare", "/dev/zero"], ["eval", "shakespeare", {str(fifo)!r}]):
            print(main(["--home", home, *argv]))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.split() == ["2", "2", "2", "2"], run.stderr
    assert run.stderr.count("not a regular file") == 4 and "Traceback" not in run.stderr


def test_corpus_size_cap_names_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "MAX_CORPUS_BYTES", 100)
    kit.write_text(tmp_path / "big.txt")
    with pytest.raises(CorpusError, match="over the corpus size limit of 100 bytes .*MAX_CORPUS"):
        load_corpus(tmp_path / "big.txt")
    (tmp_path / "folder").mkdir()
    for i in range(3):
        (tmp_path / "folder" / f"{i}.txt").write_text("abc " * 10)
    with pytest.raises(CorpusError, match="folder: 120 bytes is over the corpus size limit"):
        load_corpus(tmp_path / "folder")


def test_a_resumed_models_recorded_source_is_used_only_if_a_regular_file(tmp_path, capsys):
    home = tmp_path / "home"
    trainer = kit.trainer("torch-gru")
    trainer.corpus_info = {"name": "zero", "source": "/dev/zero"}
    store = ModelStore(home / "models")
    store.create("m")
    store.save(trainer.checkpoint(), "m")
    store.release("m")
    assert main(["--home", str(home), "train", "--resume", "m", "--max-steps", "1"]) == 2
    assert "is not a regular file here; give the corpus" in capsys.readouterr().err


class _Counting(torch.nn.Module):
    """Wraps a model and records the largest logits tensor it produced."""

    def __init__(self, model):
        super().__init__()
        self.model, self.spec, self.most = model, model.spec, 0

    def init_state(self, *a):
        return self.model.init_state(*a)

    def forward(self, x, state):
        logits, state = self.model(x, state)
        self.most = max(self.most, logits.numel())
        return logits, state


def test_evaluation_and_priming_run_in_bounded_chunks(monkeypatch):
    vocab = [chr(0x4E00 + i) for i in range(300)]
    model = build_model(kit.spec("torch-gru", vocab))
    data = np.random.default_rng(0).integers(0, len(vocab), 5000)
    whole = mean_cross_entropy(model, data, streams=8, seq=64)
    monkeypatch.setattr(evaluate, "MAX_LOGITS", 8 * 300 * 5)
    counting = _Counting(model)
    assert mean_cross_entropy(counting, data, streams=8, seq=64) == pytest.approx(whole, 1e-5)
    assert 0 < counting.most <= 8 * 300 * 5

    seed = "".join(vocab[i] for i in data[:2000])
    plain = Sampler(model, vocab)
    plain.prime(seed)
    monkeypatch.setattr("charrnn_tui.engine.generation.sampler.MAX_LOGITS", 300 * 7)
    chunked = Sampler(_Counting(model), vocab)
    chunked.prime(seed)
    assert 0 < chunked.model.most <= 300 * 7
    np.testing.assert_allclose(chunked.logits, plain.logits, rtol=1e-4, atol=1e-5)
