"""Another process holding a store's lock, for the tests of what waits for it or skips it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers import FOLDER


@contextmanager
def lock_held(lock: Path) -> Iterator[subprocess.Popen]:
    """A process holding an exclusive flock on `lock` (hold_lock.py) until the block ends,
    or until its stdin is closed."""
    holder = subprocess.Popen([sys.executable, str(FOLDER / "hold_lock.py"), str(lock)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()
