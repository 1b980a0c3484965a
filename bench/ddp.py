"""Data parallelism on one machine: speed, the cost of autosaves, the cost of a restart.

    python bench/ddp.py [CORPUS] [--steps 60] [--save-every 5] [--repeats 2]
                        [--parts speed,autosave,restart]

- speed: 2 processes × 1 thread against 1 process × 2 threads, same model, same global
  batch; chars/s from each run's own JSON (training loop only, start-up excluded);
- autosave: the 2-process run with `--save-every SECONDS` against none during the run
  (throughput ratio; the pair alternates `--repeats` times, best of each kept, since a
  shared machine's load drifts), and one save timed on its own (rank 0 saves synchronously, so every
  rank waits that long), giving the share of time at that cadence and at the default;
- restart: under `torchrun --max-restarts=1`, rank 1 is SIGKILLed after the first autosave;
  seconds from the kill until the restarted rank 0 says it continues (just before its
  first step), i.e. the agent noticing, stopping rank 0, re-rendezvous, start-up and load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import SHAKESPEARE, add_save_flag, emit
from procs import kill_launch, rank_pid

from charrnn_tui.engine.storage.modelfile import load
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.config import TrainConfig

# torchrun's shared store breaks restarts (see engine/training/elastic.py)
ENV = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*extra: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2", *extra,
            "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_port()}", "-m", "charrnn_tui"]


def run(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | ENV | env,
                         check=True)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def _wait(what: str, check, limit: float = 600.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.01)
    raise SystemExit(f"bench/ddp.py: no {what} after {limit:.0f}s")


def restart_cost(home: str, train: list[str], name: str) -> dict:
    """Kill rank 1 after the first autosave; seconds until training resumes."""
    err_path = Path(home) / "restart.err"
    last = Path(home) / f"models/{name}/last.safetensors"
    with open(err_path, "w") as err:
        agent = subprocess.Popen(
            [*_torchrun("--max-restarts=1"), "--home", home, *train, "--max-steps", "100000",
             "--save-every", "2", "--name", name], stdout=subprocess.DEVNULL, stderr=err,
            env=os.environ | ENV | {"OMP_NUM_THREADS": "1"}, start_new_session=True)
    try:
        _wait("autosave", last.exists)
        victim = _wait("rank 1", lambda: rank_pid(agent.pid, 1))
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        found = _wait("restart", lambda: re.search(
            rf"restarted: {name} continues from its autosave at step (\d+)", err_path.read_text()))
        return {"restart_seconds": round(time.monotonic() - killed, 2),
                "resumed_from_step": int(found.group(1))}
    finally:  # the run is open-ended: stop the agent and its workers (own sessions)
        kill_launch(agent)


def save_seconds(home: str, name: str, repeats: int = 5) -> float:
    """One save of `name` as rank 0 does it (temp file, fsync, rename), best of `repeats`."""
    store = ModelStore(Path(home) / "models")
    ckpt, _ = load(store.file(name))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        store.save(ckpt, name)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", nargs="?", default=str(SHAKESPEARE))
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--precision", default="auto")
    p.add_argument("--save-every", type=float, default=5.0,
                   help="autosave cadence to measure, in seconds (default 5)")
    p.add_argument("--repeats", type=int, default=2,
                   help="alternate the with/without-autosave pair this many times, and "
                        "measure this many restarts (default 2)")
    p.add_argument("--parts", default="speed,autosave,restart",
                   help="which measurements, comma-separated (default: all three)")
    add_save_flag(p)
    args = p.parse_args()
    parts = set(args.parts.split(","))
    train = ["train", args.corpus, "--preset", "quick", "--eval-every", "1e9",
             "--device", "cpu", "--precision", args.precision, "--json"]
    steps = ["--max-steps", str(args.steps)]
    result: dict = {"bench": "ddp", "steps": args.steps}
    with tempfile.TemporaryDirectory() as home:
        def ddp_run(name: str, save_every: float) -> dict:
            return run([*_torchrun(), "--home", home, *train, *steps, "--name", name,
                        "--force", "--save-every", str(save_every)], {"OMP_NUM_THREADS": "1"})

        if parts & {"speed", "autosave"}:
            saves = "autosave" in parts
            pairs = [(ddp_run("two", 1e9), ddp_run("saving", args.save_every) if saves else None)
                     for _ in range(args.repeats if saves else 1)]
            ddp = max((a for a, _ in pairs), key=lambda r: r["chars_per_s"])
            result |= {"precision": ddp["precision"],
                       "two_processes_1_thread_chars_per_s": ddp["chars_per_s"]}
        if "speed" in parts:
            single = run([sys.executable, "-m", "charrnn_tui", "--home", home, *train, *steps,
                          "--name", "one"], {"OMP_NUM_THREADS": "2"})
            result |= {"one_process_2_threads_chars_per_s": single["chars_per_s"],
                       "speedup": round(ddp["chars_per_s"] / single["chars_per_s"], 3)}
        if "autosave" in parts:
            saving = max((b for _, b in pairs), key=lambda r: r["chars_per_s"])
            one_save = save_seconds(home, "two")
            result |= {"save_every_s": args.save_every,
                       "two_processes_saving_chars_per_s": saving["chars_per_s"],
                       "saving_run_seconds": saving["seconds"],
                       "autosave_throughput_cost_pct": round(
                           100 * (1 - saving["chars_per_s"] / ddp["chars_per_s"]), 1),
                       "one_save_s": round(one_save, 4),
                       "autosave_time_share_pct": round(100 * one_save / args.save_every, 2),
                       "autosave_time_share_pct_at_default": round(
                           100 * one_save / TrainConfig.autosave_every, 3)}
        if "restart" in parts:
            restarts = [restart_cost(home, train, f"r{i}") for i in range(args.repeats)]
            result |= {"restart_seconds": [r["restart_seconds"] for r in restarts],
                       "resumed_from_step": [r["resumed_from_step"] for r in restarts]}
    emit(result, args)


if __name__ == "__main__":
    main()
