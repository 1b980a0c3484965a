"""The command line run in the test's own process, for the tests of what it prints."""

from __future__ import annotations

import contextlib
import io

from charrnn_tui.cli import main


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`charrnn-tui ARGV` in this process: its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()
