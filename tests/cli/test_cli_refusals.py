"""Issue 19, items 7-9: what used to be a traceback is one line, and names, paths and the
store's own folders are checked before anything is loaded, written or generated."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import kit

from charrnn_tui.cli import main
from charrnn_tui.engine.data.download import (
    TINYSHAKESPEARE_SHA256,
    file_sha256,
    tinyshakespeare_path,
)
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training import evaluate as scoring

SHAKESPEARE = Path("/work/shared/data/tinyshakespeare.txt")
TINY = ["--batch", "4", "--seq", "8", "--max-steps", "2", "--layers", "1", "--hidden", "8"]


def _one_line(err: str) -> str:
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def _model(home: Path, name: str = "m") -> Path:
    return kit.store_model(home, name, kit.trainer("torch-gru").checkpoint())


@pytest.mark.parametrize("home_kind", ["file", "devnull"])
def test_an_unusable_home_is_one_line_in_every_command(tmp_path, capsys, home_kind):
    home = tmp_path / "afile" if home_kind == "file" else Path("/dev/null")
    if home_kind == "file":
        home.write_text("not a folder")
    corpus = kit.write_text(tmp_path / "c.txt")
    for argv in (["models", "list"], ["sample", "shakespeare", "--length", "3"],
                 ["eval", "shakespeare", str(corpus)], ["train", str(corpus), *TINY]):
        assert main(["--home", str(home), *argv]) == 2
        assert "give another --home" in _one_line(capsys.readouterr().err)


def test_odd_temp_files_are_left_alone_and_do_not_break_listing(tmp_path, capsys):
    home = tmp_path / "home"
    folder = _model(home).parent
    huge = folder / ".last.safetensors.abc.tmp-999999999999999999999999"
    huge.write_bytes(b"x")
    (folder / ".last.safetensors.def.tmp-1").mkdir()
    assert main(["--home", str(home), "models", "list"]) == 0
    assert " m " in capsys.readouterr().out
    assert huge.exists() and (folder / ".last.safetensors.def.tmp-1").is_dir()


def test_sample_checks_its_output_files_before_generating(tmp_path, capsys):
    for argv, expect in ((["--html", "/missing/dir/x.html"], "does not exist"),
                         (["--svg", str(tmp_path)], "is a folder")):
        assert main(["sample", "shakespeare", "--length", "5", *argv]) == 2
        out, err = capsys.readouterr()
        assert out == "" and expect in _one_line(err)


def test_ctrl_c_in_sample_exits_130_without_a_traceback(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "charrnn_tui", "sample", "shakespeare",
                             "--length", "100000000", "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert proc.stdout.read(20)  # it is generating
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Traceback" not in err and b"interrupted" in err


def test_ctrl_c_in_eval_exits_130(tmp_path, monkeypatch, capsys):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(scoring, "cross_entropy", interrupted)
    assert main(["eval", "shakespeare", str(kit.write_text(tmp_path / "c.txt"))]) == 130
    assert "interrupted" in _one_line(capsys.readouterr().err)


def test_store_folders_that_are_not_what_they_seem(tmp_path, capsys):
    home = tmp_path / "home"
    _model(home, "a")
    models = home / "models"
    (models / "orphan").mkdir()
    (models / "orphan" / ".lock").write_text("")
    assert main(["--home", str(home), "models", "rename", "a", "orphan"]) == 2
    assert "exists" in _one_line(capsys.readouterr().err)
    assert (models / "a" / "last.safetensors").exists()

    outside = tmp_path / "outside"
    outside.mkdir()
    (models / "link").symlink_to(outside)
    assert main(["--home", str(home), "models", "rm", "link"]) == 0
    assert not (models / "link").exists() and list(outside.iterdir()) == []

    (models / "dirlast" / "last.safetensors").mkdir(parents=True)
    corpus = kit.write_text(tmp_path / "c.txt")
    assert main(["--home", str(home), "train", str(corpus), "--name", "dirlast", "--force",
                 *TINY]) == 2
    assert "is a folder, not a model file" in _one_line(capsys.readouterr().err)


def test_export_validates_and_never_follows_a_link_out_of_the_store(tmp_path, capsys):
    home = tmp_path / "home"
    path = _model(home)
    secret = tmp_path / "secret.safetensors"
    shutil.copy(path, secret)
    path.unlink()
    path.symlink_to(secret)
    assert main(["--home", str(home), "models", "export", "m", str(tmp_path / "out")]) == 2
    assert "links outside the store" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists()
    broken = _model(home, "broken")
    broken.write_bytes(broken.read_bytes()[:-10])
    assert main(["--home", str(home), "models", "export", "broken", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "b").exists()


def test_names_are_checked_before_the_corpus_and_derived_names_are_valid(tmp_path, capsys):
    home = tmp_path / "home"
    for bad in ("x\n", "", "../up", "[/]"):
        assert main(["--home", str(home), "train", str(tmp_path / "missing.txt"),
                     "--name", bad, *TINY]) == 2
        assert "bad model name" in _one_line(capsys.readouterr().err)
    corpus = kit.write_text(tmp_path / "my notes [v2].txt")
    assert main(["--home", str(home), "train", str(corpus), "--json", *TINY]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "my-notes-v2-lstm-1x8"


@pytest.mark.skipif(file_sha256(SHAKESPEARE) != TINYSHAKESPEARE_SHA256,
                    reason="needs the shared Tiny Shakespeare file")
def test_eval_reads_builtins_from_the_given_home(tmp_path, capsys):
    home = tmp_path / "given"
    _model(home)
    tinyshakespeare_path(home).parent.mkdir(parents=True)
    shutil.copy(SHAKESPEARE, tinyshakespeare_path(home))  # the env home has none
    assert main(["--home", str(home), "eval", "m", "builtin:tinyshakespeare"]) == 0
    assert json.loads(capsys.readouterr().out)["chars"] > 0
    modelfile.load(home / "models" / "m" / "last.safetensors")


def test_a_stale_temp_file_in_a_read_only_folder_does_not_stop_the_store(tmp_path,
                                                                          monkeypatch):
    folder = _model(tmp_path / "home").parent
    stale = folder / ".last.safetensors.abc.tmp-4194999"  # above pid_max: a dead process
    stale.write_bytes(b"x")

    def read_only(self, missing_ok=False):  # root writes anywhere, so the refusal is simulated
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", read_only)
    assert ModelStore(tmp_path / "home" / "models").names() == ["m"]
    assert stale.exists()
