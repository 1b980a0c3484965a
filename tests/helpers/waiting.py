"""Waiting on other processes without a fixed sleep: poll for what the test needs, and fail
with the processes' own output when one of them ends first."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

T = TypeVar("T")


def err_file(proc: subprocess.Popen) -> str:
    """What a process started with its stderr in the file `proc.err_path` wrote there."""
    return proc.err_path.read_text(errors="replace")


def until(what: str, check: Callable[[], T], procs: Iterable[subprocess.Popen], bound: float,
          output: Callable[[subprocess.Popen], str] = err_file) -> T:
    """Poll `check` until it returns something truthy, and return that; fail if one of
    `procs` exits first (showing its `output`), or after `bound` seconds (a bound on the
    wait, not a speed assertion)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if value := check():
            return value
        for proc in procs:
            if proc.poll() is not None:
                pytest.fail(f"{getattr(proc, 'label', 'the process')} exited "
                            f"({proc.returncode}) before {what}:\n{output(proc)}")
        time.sleep(0.02)
    pytest.fail(f"no {what} after {bound}s")
