"""Issue 7's matrix: each bad input gets a one-line reason, and nothing saved is lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from charrnn_tui.cli import main
from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.events import Notice
from charrnn_tui.engine.training.trainer import Trainer

TEXT = "to be or not to be, that is the question. " * 40


def _bad_corpora(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name → (path, words the one-line reason must contain)."""
    cases = {}

    def put(name: str, data: bytes, expect: str) -> None:
        path = tmp / name
        path.write_bytes(data)
        cases[name] = (path, expect)

    put("empty.txt", b"", "empty")
    put("single.txt", b"a", "only one distinct character")
    put("binary.bin", b"\x7fELF\x00\x01\x02" * 100, "binary")
    put("latin1.txt", "café olé naïve ".encode("latin-1") * 50, "not valid UTF-8")
    put("badmiddle.txt", TEXT.encode()[:500] + b"\xff\xfe\xfa" + TEXT.encode()[:500],
        "not valid UTF-8 at byte 500")
    put("tiny.txt", b"hello world", "needs at least")
    put("manychars.txt", "".join(map(chr, range(0x10000, 0x10000 + 70_000))).encode(),
        "distinct characters")
    folder = tmp / "allbinary"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"\x00\x01" * 50)
    cases["allbinary"] = (folder, "no readable text files")
    cases["missing.txt"] = (tmp / "missing.txt", "no such file")
    return cases


@pytest.mark.parametrize("case", ["empty.txt", "single.txt", "binary.bin", "latin1.txt",
                                  "badmiddle.txt", "tiny.txt", "manychars.txt", "allbinary",
                                  "missing.txt"])
def test_cli_refuses_bad_corpora_in_one_line(case, tmp_path, capsys):
    path, expect = _bad_corpora(tmp_path)[case]
    code = main(["--home", str(tmp_path / "home"), "train", str(path), "--max-steps", "1",
                 "--batch", "4", "--seq", "8", "--hidden", "8", "--layers", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert expect in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


def test_utf16_with_bom_and_mixed_folder_are_accepted(tmp_path):
    (tmp_path / "u16.txt").write_bytes(TEXT.encode("utf-16"))
    assert load_corpus(tmp_path / "u16.txt").encoding == "utf-16"
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.txt").write_text(TEXT)
    (tmp_path / "mixed" / "b.png").write_bytes(b"\x89PNG\x00\x00" * 10)
    corpus = load_corpus(tmp_path / "mixed")
    assert len(corpus) == len(TEXT)
    assert any("b.png" in n and "binary" in n for n in corpus.notices)


def test_one_50mb_line_loads_compactly(tmp_path):
    path = tmp_path / "line.txt"
    path.write_bytes(b"abcdefghij" * 5_000_000)
    corpus = load_corpus(path)
    assert len(corpus) == 50_000_000 and corpus.data.nbytes == 50_000_000


@pytest.mark.parametrize("error,expect", [(PermissionError, "permission denied"),
                                          (FileNotFoundError, "no such file")])
def test_unreadable_or_vanishing_file(tmp_path, monkeypatch, error, expect):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)

    def fail(self):  # root reads anything, so the OS refusal is simulated
        raise error(errno.EACCES, "simulated")

    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(CorpusError, match=expect):
        load_corpus(path)


def test_disk_full_during_save_keeps_the_previous_version_and_training_goes_on(tmp_path,
                                                                               monkeypatch):
    store = ModelStore(tmp_path)
    vocab = sorted(set(TEXT))
    data = load_corpus_from_text(tmp_path, vocab)
    trainer = Trainer(build_model(ModelSpec(layers=1, hidden=8, embed=4, vocab=vocab)), data,
                      TrainConfig(batch=4, seq=8, max_steps=40, precision="fp32",
                                  autosave_every=1e-9, eval_every=1e9))
    store.create("m")
    store.save(trainer.checkpoint(), "m")
    before = store.file("m").read_bytes()
    real_fsync = os.fsync

    def full_disk(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".last"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", full_disk)
    notices = []
    done = trainer.run(lambda e: notices.append(e) if isinstance(e, Notice) else None,
                       lambda ckpt, tag: store.save(ckpt, "m", tag) and None)
    assert done.reason == "steps" and done.step == 40  # training went on
    assert any("could not save" in n.message and "No space" in n.message for n in notices)
    assert store.file("m").read_bytes() == before  # the previous version is intact
    assert not [p for p in store.folder("m").iterdir() if ".tmp-" in p.name]
    modelfile.load(store.file("m"))


def load_corpus_from_text(tmp: Path, vocab: list[str]):
    path = tmp / "corpus.txt"
    path.write_text(TEXT)
    corpus = load_corpus(path)
    assert corpus.chars == vocab
    return corpus.data
