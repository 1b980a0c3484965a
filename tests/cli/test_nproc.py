"""`train --nproc N`: torch's launcher started for the user, with no environment to set.

Each launch runs in its own session so teardown can kill it with its ranks, whatever the
outcome; every wait is bounded and ends on an event (a file, an exit), not on a sleep.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import kit
from helpers.procs import children, kill_launch, rank_pid
from helpers.waiting import until

from charrnn_tui.cli import main
from charrnn_tui.cli.launch import ENV_NO_SHARED_STORE
from charrnn_tui.engine.storage.modelfile import ModelFileError, load

BOUND = 150  # seconds any one wait may take before the test fails (not a speed assertion)
TINY = ["--impl", "torch", "--cell", "lstm", "--layers", "1", "--hidden", "16", "--embed",
        "8", "--batch", "4", "--seq", "8", "--precision", "fp32", "--device", "cpu",
        "--eval-every", "1000", "--json"]
# the user's environment, without anything torchrun-specific: --nproc must set what it needs
ENV = {k: v for k, v in os.environ.items() if k != ENV_NO_SHARED_STORE} | {
    "OMP_NUM_THREADS": "1"}


@pytest.mark.parametrize("flags,reason", [
    (["--nproc", "0"], "must be at least 1"),
    (["--nproc", "two"], "not a whole number"),
    (["--nproc", "65"], "--nproc must be between 1 and 64"),
    (["--nproc", "2", "--impl", "numpy"], "needs the torch or scratch implementation"),
    (["--nproc", "2", "--max-restarts", "1"], "--max-restarts needs --name"),
    (["--nproc", "2", "--nnodes", "2"], "needs --rdzv-endpoint"),
    (["--nproc", "2", "--nnodes", "3:1"], "1 ≤ MIN ≤ MAX"),
])
def test_a_bad_launch_is_refused_in_one_line_before_any_process_starts(
        flags, reason, tmp_path, capsys):
    corpus = kit.write_text(tmp_path / "tiny.txt")
    try:
        code = main(["--home", str(tmp_path / "home"), "train", str(corpus), *flags])
    except SystemExit as e:  # argparse's own refusal: the usage, then the reason
        code = e.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert reason in err.splitlines()[-1] and "Traceback" not in err
    assert not (tmp_path / "home" / "models").exists() or not any(
        (tmp_path / "home" / "models").iterdir())


class Launches:
    def __init__(self, tmp: Path):
        self.tmp, self.procs = tmp, []

    def start(self, *args: str) -> subprocess.Popen:
        err = open(self.tmp / f"launch{len(self.procs)}.err", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "charrnn_tui", "--home", str(self.tmp / "home"), "train",
             *args], stdout=subprocess.PIPE, stderr=err, text=True, env=ENV,
            start_new_session=True)
        proc.err_path = Path(err.name)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                kill_launch(proc)


@pytest.fixture
def launches(tmp_path):
    kit.write_text(tmp_path / "tiny.txt")
    found = Launches(tmp_path)
    try:
        yield found
    finally:
        found.close()


def _loaded(path: Path):
    try:
        return load(path)[0]
    except (ModelFileError, OSError):
        return None


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        out, _ = proc.communicate(timeout=BOUND)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {BOUND}s:\n{proc.err_path.read_text()}")
    return proc.returncode, out, proc.err_path.read_text(errors="replace")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks through /proc")
def test_a_sigkilled_rank_restarts_and_the_run_resumes_from_its_autosave(launches, tmp_path):
    last = tmp_path / "home/models/m/last.safetensors"
    run = launches.start(str(tmp_path / "tiny.txt"), *TINY, "--name", "m", "--nproc", "2",
                         "--max-restarts", "1", "--max-steps", "400", "--save-every", "0.2")
    rank1 = until("rank 1", lambda: rank_pid(run.pid, 1), [run], BOUND)
    before = until("a whole autosave", lambda: _loaded(last), [run], BOUND)
    os.kill(rank1, signal.SIGKILL)
    code, out, err = _finish(run)
    assert code == 0, err
    assert "restarted: m continues from its autosave" in err, err
    final, _ = load(last)
    assert final.state.step == 400 > before.state.step  # --max-steps counts the whole run
    assert json.loads(out.splitlines()[-1])["steps"] == 400  # rank 0 reports, once


def test_ctrl_c_stops_every_rank_and_saves_once(launches, tmp_path):
    last = tmp_path / "home/models/m/last.safetensors"
    run = launches.start(str(tmp_path / "tiny.txt"), *TINY, "--name", "m", "--nproc", "2",
                         "--time-budget", "600", "--save-every", "0.2")
    until("a whole autosave", lambda: _loaded(last), [run], BOUND)
    run.send_signal(signal.SIGINT)  # what Ctrl-C sends the launcher
    code, out, err = _finish(run)
    assert code == 130, err
    assert "the ranks saved as they stopped" in err
    (saved,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert saved["reason"] == "interrupted" and saved["model"] == "m"
    assert load(last)[0].state.step == saved["steps"] > 0
    assert [p for p in children(run.pid)] == []  # no rank left behind
