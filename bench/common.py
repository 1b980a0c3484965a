"""Shared bits for the benchmarks: the corpus path and JSON output."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def emit(result: dict) -> None:
    result |= {"torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpus": os.cpu_count()}
    json.dump(result, sys.stdout, indent=2)
    print()
