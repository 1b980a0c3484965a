"""Two charrnn-tui processes on one home: neither overwrites the other, readers never see a
half-written file, and the session file stays whole whoever writes it last.

Every case uses real processes; every wait is bounded by an event (a file appears, a line
is printed), never by a sleep standing in for one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from helpers import FOLDER, kit
from helpers.lock_holder import lock_held
from helpers.waiting import until

from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.store import ModelStore

BOUND = 120  # seconds any one wait may take before the test fails (not a speed assertion)
TINY = ["--impl", "torch", "--cell", "lstm", "--layers", "1", "--hidden", "16", "--embed",
        "8", "--batch", "4", "--seq", "8", "--precision", "fp32", "--device", "cpu",
        "--threads", "1"]


def _cli(home: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "charrnn_tui", "--home", str(home), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_a_second_training_under_a_name_in_training_is_refused_and_the_first_keeps_its_model(
        tmp_path):
    home, corpus = tmp_path / "home", kit.write_text(tmp_path / "tiny.txt")
    last = home / "models" / "m" / "last.safetensors"
    first = _cli(home, "train", str(corpus), "--name", "m", "--time-budget", "600",
                 "--save-every", "0.2", "--json", *TINY)
    try:
        until("the first autosave", last.exists, [first], BOUND, output=lambda p: p.stderr.read())
        second = _cli(home, "train", str(corpus), "--name", "m", "--force", "--max-steps", "2",
                      "--json", *TINY)
        out, err = second.communicate(timeout=BOUND)
        assert second.returncode == 2 and out == ""
        assert err.strip().splitlines() == [
            "charrnn-tui: model 'm' is in use by another charrnn-tui process; pick another "
            "name or stop that one first"]
        first.send_signal(signal.SIGINT)  # stop and save, as Ctrl-C does
        out, err = first.communicate(timeout=BOUND)
        assert first.returncode == 130, err
        saved = json.loads(out)
        assert saved["model"] == "m" and saved["reason"] == "interrupted"
        assert modelfile.load(last)[0].state.step == saved["steps"]
    finally:
        first.kill()
        first.wait()


def test_models_list_in_another_process_never_shows_a_half_written_file(tmp_path):
    """One process saves the same model over and over; another lists the store as fast
    as it can. Every listing shows the model whole (no load error, a step it really saved)."""
    root = tmp_path / "models"
    saver = subprocess.Popen([sys.executable, str(FOLDER / "save_loop.py"),
                              str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert saver.stdout.readline().strip() == "ready"
        saver.stdin.write("go\n")
        saver.stdin.flush()
        pid = int(saver.stdout.readline().split()[1])
        store, steps = ModelStore(root), set()
        for _ in range(200):
            (info,) = store.list()
            assert info.error is None, info.error
            steps.add(info.steps)
        assert len(steps) > 1  # the files really were replaced while being listed
        import os

        os.kill(pid, signal.SIGKILL)
        assert saver.stdout.readline().startswith("dead")
    finally:
        saver.kill()
        saver.wait()


WRITER = """
import sys
from pathlib import Path
from charrnn_tui.session import Session, save_session
path, who = Path(sys.argv[1]), sys.argv[2]
for i in range(int(sys.argv[3])):
    save_session(Session(tab="playground", model=f"{who}-{i}", corpus="x" * (1 + i % 50)), path)
print("done", flush=True)
"""


def test_two_processes_saving_the_session_leave_one_whole_file(tmp_path):
    from charrnn_tui.session import load_session

    path = tmp_path / "session.json"
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), who, "150"],
                                stdout=subprocess.PIPE, text=True) for who in ("a", "b")]
    try:
        while any(w.poll() is None for w in writers):
            if path.exists():
                session, notice = load_session(path)
                assert notice is None, notice  # never a torn or half-written file
        for w in writers:
            assert w.communicate(timeout=BOUND)[0].strip() == "done"
        session, notice = load_session(path)
        assert notice is None and session.model in ("a-149", "b-149")  # the last writer's
        assert [p.name for p in tmp_path.iterdir()] == ["session.json"]  # no temp files
    finally:
        for w in writers:
            w.kill()
            w.wait()


def test_a_derived_name_another_process_is_training_is_skipped_with_a_notice(tmp_path):
    """The other process holds the name but has saved nothing yet, so only its claim shows."""
    from charrnn_tui.names import claim_free_name

    store = ModelStore(tmp_path / "models")
    folder = store.folder("m")
    folder.mkdir(parents=True)
    try:
        with lock_held(folder / ".lock"):
            assert not store.exists("m")
            name, notice = claim_free_name(store, "m")
            assert name == "m-2" and notice == "m: being trained by another process; saving as m-2"
            assert "m-2" in store._claims
    finally:
        store.release("m-2")
