"""The terminal app on SIGTERM or SIGHUP (a shutdown, a closed terminal) leaves as its
Quit key does. Before, either signal killed it where it stood: a running training lost
what it had learned since its last autosave, and the session was not kept."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from charrnn_tui.session import session_path

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and ptys")
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


def _drain(fd: int, seen: bytearray, seconds: float) -> None:
    """Read what the app wrote to the terminal for up to `seconds` (it must never block on
    a full terminal)."""
    ready, _, _ = select.select([fd], [], [], seconds)
    if ready:
        try:
            seen += os.read(fd, 65536)
        except OSError:  # the app closed its end
            pass


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_quits_the_terminal_app_as_its_quit_key_does(name):
    import pty

    master, slave = pty.openpty()
    app = subprocess.Popen([sys.executable, "-m", "charrnn_tui"], stdin=slave, stdout=slave,
                           stderr=slave, start_new_session=True,
                           env={**os.environ, "TERM": "xterm-256color"})
    os.close(slave)
    seen = bytearray()
    try:
        deadline = time.monotonic() + 120
        while "Type a seed" not in ANSI.sub("", seen.decode("utf-8", "replace")):
            assert time.monotonic() < deadline, "the app did not show its first screen"
            assert app.poll() is None, seen.decode("utf-8", "replace")[-500:]
            _drain(master, seen, 0.5)
        assert not session_path().exists()
        app.send_signal(getattr(signal, name))
        deadline = time.monotonic() + 60
        while app.poll() is None and time.monotonic() < deadline:
            _drain(master, seen, 0.2)
        assert app.returncode == 0
        assert session_path().is_file()  # written by the Quit path, after stopping training
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
        os.close(master)
