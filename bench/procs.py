"""A torchrun launch's processes, found through /proc (Linux): the DDP benchmark and the
tests that kill ranks use these (through tests/helpers/procs.py; bench imports nothing
from the tests)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`, now."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def rank_pid(parent: int, rank: int) -> int | None:
    """The pid of `parent`'s worker with global rank `rank`, if it runs now."""
    for pid in children(parent):
        try:
            if f"RANK={rank}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    return None


def kill_launch(proc: subprocess.Popen) -> None:
    """SIGKILL a launcher started in a session of its own, and its workers: torchrun starts
    each worker in a session of its own, so they are found by their parent. Then reap it."""
    for pid in [proc.pid, *children(proc.pid)]:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait()
