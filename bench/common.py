"""Shared bits for the benchmarks: the corpus path and JSON output."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def emit(result: dict) -> None:
    result |= {"torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpus": os.cpu_count()}
    json.dump(result, sys.stdout, indent=2)
    print()


@contextlib.contextmanager
def busy(n: int):
    """`n` processes that each keep a core busy, as a user's other programs do; always stopped."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5 if n else 0)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()
