"""The app in a real headless Chromium (scripts/browser_check.py): runs where a system
Chromium and Playwright are installed, and is skipped with the reason elsewhere."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from helpers import REPO

SCRIPT = REPO / "scripts" / "browser_check.py"


def _script():
    spec = importlib.util.spec_from_file_location("browser_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.browser
def test_typing_a_seed_in_a_browser_generates_text(tmp_path):
    pytest.importorskip("textual_serve", reason="the [serve] extra is not installed")
    check = _script()
    reason = check.why_not(check.chromium_path(None))
    if reason:
        pytest.skip(f"no browser check: {reason}")
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path),
                           "--timeout", "150"], capture_output=True, text=True, timeout=900)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "passed" in done.stdout
    for name in ("before.png", "after.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
