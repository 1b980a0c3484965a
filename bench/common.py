"""Shared bits for the benchmarks: the corpus path, JSON output and the saved record."""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
RESULTS = Path(__file__).resolve().parent / "results"

# CPU flags that decide how fast training and generation can be (fp32 only, bf16, AMX)
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def add_save_flag(parser: argparse.ArgumentParser) -> None:
    """`--save QUESTION`: also keep the result as a record under bench/results/ for
    bench/report.py; the question names the table of docs/results.md it belongs to."""
    parser.add_argument("--save", metavar="QUESTION",
                        help="also save the result with the machine it ran on under "
                             "bench/results/ (QUESTION: a table of docs/results.md, e.g. "
                             "presets, generation)")
    parser.add_argument("--what", help="with --save: the row's label (default: the command)")
    parser.add_argument("--busy-beside", type=int, default=0, metavar="N",
                        help="with --save: busy processes you ran beside it (the bench's own "
                             "are recorded by the bench)")


def machine(busy: int = 0) -> dict:
    """What the figures depend on: CPU model and flags, cores, torch, and the load."""
    cpu, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text()
        if m := re.search(r"^model name\s*:\s*(.+)$", text, re.M):
            cpu = m.group(1).strip()
        if m := re.search(r"^flags\s*:\s*(.+)$", text, re.M):
            flags = set(m.group(1).split())
    return {"cpu": cpu, "flags": [f for f in FLAGS if f in flags], "cores": os.cpu_count(),
            "torch": torch.__version__, "busy": busy,
            "loadavg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg")
            else None}


def emit(result: dict, args: argparse.Namespace | None = None) -> None:
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpus": os.cpu_count()} | result  # a bench that knows its threads says so
    json.dump(result, sys.stdout, indent=2)
    print()
    if args is not None and getattr(args, "save", None):
        path = save(result, args)
        print(f"saved {path}", file=sys.stderr)


def save(result: dict, args: argparse.Namespace) -> Path:
    """Write the record bench/report.py reads: one JSON file per run, never overwritten."""
    now = datetime.datetime.now(datetime.timezone.utc)
    argv, skip = [], False
    for a in sys.argv[1:]:  # --save, --what and --busy-beside are not part of the run
        if skip or a.split("=")[0] in ("--save", "--what", "--busy-beside"):
            skip = not skip and "=" not in a
            continue
        argv.append(a)
    command = "python bench/" + Path(sys.argv[0]).name + " " + shlex.join(argv)
    own = result.get("busy")  # bench/ui.py --busy N starts its own
    busy_beside = args.busy_beside + (own if isinstance(own, int) else 0)
    record = {"question": args.save, "what": args.what or command, "command": command.strip(),
              "date": now.date().isoformat(), "machine": machine(busy_beside),
              "source": "measured", "result": result}
    RESULTS.mkdir(exist_ok=True)
    stem = f"{now:%Y%m%d-%H%M%S}-{result.get('bench', 'bench')}-{args.save}"
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", stem)
    for n in range(1, 1000):  # "x": a record is never replaced, even by one saved this second
        path = RESULTS / f"{stem}-{n:03d}.json"  # sorts in the order saved
        try:
            with open(path, "x", encoding="utf-8") as f:
                json.dump(record, f, indent=2)
                f.write("\n")
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"{RESULTS / stem}*.json: too many records with this name")


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
