"""PyTorch, imported on a background thread once the app has painted its first screen.

Importing torch and the training stack takes a second or more; the first screen and the
Playground need none of it (sampling runs in numpy on the CPU). What does need it checks
`ready()` and says LOADING until then instead of blocking the screen.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

LOADING = "loading PyTorch…"


def ready() -> bool:
    """torch is imported completely (not merely under way on another thread)."""
    module = sys.modules.get("torch")
    return module is not None and not getattr(module.__spec__, "_initializing", False)


def load(then: Callable[[str | None], None]) -> threading.Thread:
    """Import torch and the training stack on a daemon thread, then call `then` there with
    None, or with the reason the import failed."""

    def work() -> None:
        try:
            import torch  # noqa: F401

            import charrnn_tui.engine.training.trainer  # noqa: F401
        except Exception as e:  # a broken install: say so where torch is needed
            then(f"PyTorch could not be loaded: {e}")
            return
        then(None)

    thread = threading.Thread(target=work, name="load-torch", daemon=True)
    thread.start()
    return thread
