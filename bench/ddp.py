"""Data parallelism on one machine: 2 processes × 1 thread against 1 process × 2 threads.

    python bench/ddp.py [CORPUS] [--steps 60]

Both train the same model on the same global batch through the CLI; chars/s comes from
each run's own JSON (training loop only, start-up excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile

from common import SHAKESPEARE, emit


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ | env, check=True)
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", nargs="?", default=str(SHAKESPEARE))
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--precision", default="auto")
    args = p.parse_args()
    train = ["train", args.corpus, "--preset", "quick", "--max-steps", str(args.steps),
             "--eval-every", "1e9", "--device", "cpu", "--precision", args.precision, "--json"]
    with tempfile.TemporaryDirectory() as home:
        single = run([sys.executable, "-m", "charrnn_tui", "--home", home, *train,
                      "--name", "one"], {"OMP_NUM_THREADS": "2"})
        ddp = run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node=2",
                   "--rdzv-backend=c10d", f"--rdzv-endpoint=127.0.0.1:{_port()}",
                   "-m", "charrnn_tui", "--home", home, *train, "--name", "two"],
                  {"OMP_NUM_THREADS": "1"})
    emit({"bench": "ddp", "steps": args.steps, "precision": single["precision"],
          "one_process_2_threads_chars_per_s": single["chars_per_s"],
          "two_processes_1_thread_chars_per_s": ddp["chars_per_s"],
          "speedup": round(ddp["chars_per_s"] / single["chars_per_s"], 3)})


if __name__ == "__main__":
    main()
