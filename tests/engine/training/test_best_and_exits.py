"""Issue 19, items 2-4: `best` is never replaced by something worse, and every failure
exits honestly (a failed save is never reported as saved; a second Ctrl-C still saves)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import kit
from helpers.mutate import set_field

from charrnn_tui.cli import main
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.backends import TorchBackend

TINY = ["--batch", "4", "--seq", "8", "--eval-every", "1000"]


@pytest.fixture
def corpus(tmp_path) -> Path:
    return kit.write_text(tmp_path / "tiny.txt")


def _saved(home: Path, name: str, corpus: Path, tags=("last", "best"), steps: int = 2) -> Path:
    """A tiny model trained `steps` steps, saved under `name` as each of `tags`."""
    trainer = kit.trainer("torch-gru", max_steps=steps)
    trainer.corpus_info = {"name": corpus.name, "source": str(corpus)}
    trainer.run()
    return kit.store_model(home, name, trainer.checkpoint(), tags).parent


def test_a_name_with_only_best_is_a_model(tmp_path, corpus, capsys):
    home = tmp_path / "home"
    folder = _saved(home, "m", corpus, tags=("best",))
    best = (folder / "best.safetensors").read_bytes()
    assert main(["--home", str(home), "models", "list"]) == 0
    assert " m " in capsys.readouterr().out
    # a new run under the name is refused without --force: the best is not overwritten
    assert main(["--home", str(home), "train", str(corpus), "--name", "m", "--max-steps", "2",
                 *TINY]) == 2
    assert "exists" in capsys.readouterr().err
    assert (folder / "best.safetensors").read_bytes() == best
    # and it resumes (from its best file)
    assert main(["--home", str(home), "train", "--resume", "m", "--max-steps", "2", "--json",
                 *TINY]) == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 4


@pytest.mark.parametrize("best_file_val,replaced", [(0.01, False), (99.0, True)])
def test_resume_measures_a_new_best_against_the_best_file_not_lasts_counter(
        tmp_path, corpus, capsys, best_file_val, replaced):
    """`last` says best_val 50 (stale); the best file records its own loss. A resumed run
    whose loss lies between the two must not replace a better best file."""
    home = tmp_path / "home"
    folder = _saved(home, "m", corpus)
    last, best = folder / "last.safetensors", folder / "best.safetensors"
    last.write_bytes(set_field(last.read_bytes(), "state.best_val", 50.0))
    best.write_bytes(set_field(best.read_bytes(), "state.best_val", best_file_val))
    before = best.read_bytes()
    assert main(["--home", str(home), "train", "--resume", "m", "--max-steps", "2", "--json",
                 *TINY]) == 0
    val = json.loads(capsys.readouterr().out)["val_loss"]
    assert 0.01 < val < 50.0
    assert (best.read_bytes() != before) is replaced
    assert modelfile.read_meta(best)["state"]["best_val"] == (val if replaced else 0.01)


def test_a_failed_final_save_exits_non_zero_and_never_says_saved(tmp_path, corpus,
                                                                 monkeypatch, capsys):
    def disk_full(self, ckpt, name, tag="last"):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ModelStore, "save", disk_full)
    code = main(["--home", str(tmp_path / "home"), "train", str(corpus), "--max-steps", "2",
                 *TINY])
    out, err = capsys.readouterr()
    assert code == 1
    assert "saved" not in out and out == ""
    assert "could not be saved" in err and "No space left" in err


def test_a_second_ctrl_c_mid_step_still_saves(tmp_path, corpus, monkeypatch, capsys):
    """The second press raises KeyboardInterrupt wherever training is; the run is saved."""
    real_chunk = TorchBackend.step
    calls = []

    def second_ctrl_c(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_chunk(self, *args)

    monkeypatch.setattr(TorchBackend, "step", second_ctrl_c)
    home = tmp_path / "home"
    code = main(["--home", str(home), "train", str(corpus), "--name", "m", "--max-steps", "50",
                 "--json", *TINY])
    err = capsys.readouterr().err
    assert code == 130 and "saving" in err and "Traceback" not in err
    ckpt, _ = modelfile.load(home / "models" / "m" / "last.safetensors")
    assert ckpt.state.step == 2


def test_ctrl_c_twice_in_the_cli_saves_and_exits_130(tmp_path, corpus):
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [sys.executable, "-m", "charrnn_tui", "--home", str(home), "train", str(corpus),
         "--name", "m", "--time-budget", "600", "--batch", "4", "--seq", "8",
         "--eval-every", "0.2", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"})
    while "nats/char" not in proc.stderr.readline():  # training runs: an evaluation is out
        assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "stopping" in err
    modelfile.load(home / "models" / "m" / "last.safetensors")
