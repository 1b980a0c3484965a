"""Elastic training under torchrun on 127.0.0.1 (gloo): a killed rank, two agents, a lost node.

Every torchrun agent runs in its own session so that teardown can kill it with all its
workers, whatever the test's outcome. Rendezvous ports lie outside the ephemeral range,
so nothing else is handed one between its choice and its use (helpers/ports.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.lock_holder import lock_held
from helpers.ports import rendezvous_port
from helpers.procs import kill_launch, rank_pid
from helpers.waiting import until

from charrnn_tui.cli import main as cli_main
from charrnn_tui.engine.storage.modelfile import ModelFileError, load, read_meta

TEXT = "the quick brown fox jumps over the lazy dog. " * 60
MODEL = ["--impl", "torch", "--cell", "lstm", "--layers", "1", "--hidden", "16", "--embed", "8",
         "--batch", "4", "--seq", "8", "--precision", "fp32", "--device", "cpu",
         "--eval-every", "1000", "--json", "--name", "m"]
ENV = os.environ | {"OMP_NUM_THREADS": "1", "TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
BOUND = 150  # seconds any one wait may take before the test fails (not a speed assertion)


class Agents:
    """torchrun agents started by one test; `close` kills whatever is left of them."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []

    def start(self, label: str, torchrun: list[str], train: list[str]) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "torch.distributed.run", *torchrun,
               "-m", "charrnn_tui", "--home", str(self.tmp / "home"), "train", *train]
        with open(self.tmp / f"{label}.out", "w") as out, \
             open(self.tmp / f"{label}.err", "w") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=ENV,
                                    start_new_session=True)
        proc.label = label
        proc.err_path = self.tmp / f"{label}.err"
        self.procs.append(proc)
        return proc

    def log(self, proc: subprocess.Popen, stream: str = "err") -> str:
        return (self.tmp / f"{proc.label}.{stream}").read_text(errors="replace")

    def wait(self, proc: subprocess.Popen) -> int:
        try:
            return proc.wait(timeout=BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{proc.label} still running after {BOUND}s:\n{self.log(proc)}")

    def kill_all(self, proc: subprocess.Popen) -> None:
        """SIGKILL an agent and its workers: a node lost at once. torchrun starts each
        worker in a session of its own, so the workers are found by their parent."""
        kill_launch(proc)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill_all(proc)


@pytest.fixture
def agents(tmp_path):
    (tmp_path / "fox.txt").write_text(TEXT)
    a = Agents(tmp_path)
    try:
        yield a
    finally:
        a.close()


def _autosave(path: Path, **want):
    """The autosave's metadata once it exists and matches `want` (config fields)."""
    try:
        meta = read_meta(path)
    except (ModelFileError, OSError):
        return None
    ok = meta["state"]["step"] >= 1 and all(meta["config"].get(k) == v for k, v in want.items())
    return meta if ok else None


def _loaded(path: Path):
    """The model file, loaded whole; None while there is none yet to load."""
    try:
        return load(path)[0]
    except ModelFileError:
        return None


def _continuous(history: list[list[float]]) -> bool:
    steps = [s for s, _ in history]
    return steps == sorted(set(steps))


def test_sigkilled_rank_restarts_and_resumes_from_the_autosave(agents, tmp_path):
    last = tmp_path / "home/models/m/last.safetensors"
    run = agents.start("run", ["--nproc-per-node=2", "--max-restarts=1", "--rdzv-backend=c10d",
                               f"--rdzv-endpoint=127.0.0.1:{rendezvous_port()}"],
                       [str(tmp_path / "fox.txt"), *MODEL, "--max-steps", "400",
                        "--save-every", "0.2"])
    rank0 = until("rank 0", lambda: rank_pid(run.pid, 0), [run], BOUND)
    until("an autosave", lambda: _autosave(last), [run], BOUND)
    before = until("a whole autosave", lambda: _loaded(last), [run], BOUND)  # at or before the kill
    os.kill(rank0, signal.SIGKILL)  # the saver, holding the model's name lock
    assert agents.wait(run) == 0, agents.log(run)

    err = agents.log(run)
    resumed = re.search(r"restarted: m continues from its autosave at step (\d+)", err)
    assert resumed, err
    assert before.state.step <= int(resumed.group(1)) < 400  # not from step 0
    final, _ = load(last)  # loads: checksum, schema and shapes all pass
    assert final.state.step == 400 > before.state.step  # --max-steps counts the whole run
    assert _continuous(final.state.history)
    assert final.state.history[:len(before.state.history)] == before.state.history
    assert final.state.history[-1][0] > int(resumed.group(1))
    assert json.loads(agents.log(run, "out").splitlines()[-1])["steps"] == 400


def test_two_agents_on_loopback_match_one_process(agents, tmp_path, capsys):
    port = rendezvous_port()
    common = ["--nnodes=2", "--nproc-per-node=1", "--rdzv-backend=c10d",
              f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=two-agents"]
    train = [str(tmp_path / "fox.txt"), *MODEL, "--max-steps", "6"]
    a = agents.start("a", [*common, "--rdzv-conf=is_host=1"], train)
    b = agents.start("b", [*common, "--rdzv-conf=is_host=0"], train)
    assert agents.wait(a) == 0, agents.log(a)
    assert agents.wait(b) == 0, agents.log(b)
    reports = agents.log(a, "out") + agents.log(b, "out")
    assert reports.count('"model": "m"') == 1  # only rank 0 reports

    assert cli_main(["--home", str(tmp_path / "one"), "train", *train]) == 0
    capsys.readouterr()
    two, _ = load(tmp_path / "home/models/m/last.safetensors")
    one, _ = load(tmp_path / "one/models/m/last.safetensors")
    assert two.state.step == one.state.step == 6
    assert two.config["world_size"] == 2 and one.config["world_size"] == 1
    for k in one.tensors:
        torch.testing.assert_close(two.tensors[k], one.tensors[k], atol=1e-5, rtol=0)


def test_lost_node_shrinks_the_world_and_the_run_goes_on(agents, tmp_path):
    last = tmp_path / "home/models/m/last.safetensors"
    port = rendezvous_port()
    common = ["--nnodes=1:2", "--nproc-per-node=1", "--max-restarts=1", "--rdzv-backend=c10d",
              f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=shrink"]
    conf = "last_call_timeout=2,keep_alive_interval=1,keep_alive_max_attempt=2"
    train = [str(tmp_path / "fox.txt"), *MODEL, "--max-steps", "300", "--save-every", "0.2"]
    b = agents.start("b", [*common, f"--rdzv-conf=is_host=0,{conf}"], train)
    a = agents.start("a", [*common, f"--rdzv-conf=is_host=1,{conf}"], train)
    until("an autosave by 2 ranks", lambda: _autosave(last, world_size=2), [a, b], BOUND)
    agents.kill_all(b)  # the node goes, its agent and worker with it
    assert agents.wait(a) == 0, agents.log(a)

    err = agents.log(a)
    assert "restarted: m continues from its autosave" in err, err
    assert ("the run continues on 1 rank(s) instead of 2: --batch 4 stays global, "
            "re-divided as 4 stream(s) per rank (was 2)") in err
    final, _ = load(last)
    assert final.state.step == 300 and final.config["world_size"] == 1
    assert _continuous(final.state.history)


# --- the same decisions in-process, as a one-rank torchrun world (fast) -------------------

def _as_torchrun(monkeypatch, run_id: str, *, shared_store: bool = False) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # threads fixed: no tuner in these runs
    for key, value in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(rendezvous_port()),
                       "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1",
                       "TORCHELASTIC_RUN_ID": run_id, "TORCHELASTIC_MAX_RESTARTS": "1",
                       "TORCHELASTIC_USE_AGENT_STORE": str(shared_store)}.items():
        monkeypatch.setenv(key, value)


def _train(tmp_path, *extra: str) -> int:
    corpus = tmp_path / "fox.txt"
    corpus.write_text(TEXT)
    return cli_main(["--home", str(tmp_path / "home"), "train", str(corpus), *MODEL, *extra])


def test_a_restart_continues_its_own_run_and_counts_the_budget_from_its_start(
        tmp_path, monkeypatch, capsys):
    _as_torchrun(monkeypatch, "job-1")
    assert _train(tmp_path, "--max-steps", "5") == 0  # as if killed after its last save
    first, _ = load(tmp_path / "home/models/m/last.safetensors")
    assert first.config["run_id"] == "job-1" and first.config["run_origin"] == [0, 0.0, 0.0]
    capsys.readouterr()
    assert _train(tmp_path, "--max-steps", "8") == 0  # the restart: same run, same command
    assert "restarted: m continues from its autosave at step 5" in capsys.readouterr().err
    final, _ = load(tmp_path / "home/models/m/last.safetensors")
    assert final.state.step == 8  # 8 for the whole run, not 8 more
    assert final.state.history[:len(first.state.history)] == first.state.history

    _as_torchrun(monkeypatch, "job-2")  # another run: the name is taken, as ever
    assert _train(tmp_path, "--max-steps", "8") == 2
    assert "a model named 'm' exists" in capsys.readouterr().err


def test_a_plain_resume_on_fewer_ranks_says_how_the_batch_is_divided(tmp_path, capsys):
    from charrnn_tui.engine.storage import modelfile

    assert _train(tmp_path, "--max-steps", "2") == 0
    path = tmp_path / "home/models/m/last.safetensors"
    ckpt, _ = load(path)
    ckpt.config["world_size"] = 2  # as written by a 2-rank run
    modelfile.save(path, ckpt)
    capsys.readouterr()
    assert cli_main(["--home", str(tmp_path / "home"), "train", "--resume", "m",
                     "--max-steps", "1", "--json"]) == 0
    assert ("continues on 1 rank(s) instead of 2: --batch 4 stays global, re-divided as "
            "4 stream(s) per rank (was 2)") in capsys.readouterr().err


def test_restarts_without_a_name_or_with_the_shared_store_are_refused(
        tmp_path, monkeypatch, capsys):
    _as_torchrun(monkeypatch, "job", shared_store=True)
    assert _train(tmp_path, "--max-steps", "2") == 2
    assert "TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1" in capsys.readouterr().err
    _as_torchrun(monkeypatch, "job")
    corpus = tmp_path / "fox.txt"
    assert cli_main(["--home", str(tmp_path / "home"), "train", str(corpus),
                     "--max-steps", "2"]) == 2
    assert "give --name" in capsys.readouterr().err
    assert not (tmp_path / "home/models").exists() or not any(
        (tmp_path / "home/models").iterdir())


def test_a_claim_waits_for_a_predecessor_that_is_exiting(tmp_path):
    import threading

    from charrnn_tui.engine.storage.store import ModelStore, StoreError

    store = ModelStore(tmp_path / "models")
    folder = store.folder("m")
    folder.mkdir(parents=True)
    try:
        with lock_held(folder / ".lock") as holder:
            with pytest.raises(StoreError, match="in use by another"):
                store.claim("m")
            threading.Timer(0.3, holder.stdin.close).start()  # the predecessor exits meanwhile
            store.claim("m", wait=BOUND)
            assert "m" in store._claims
    finally:
        store.release("m")
