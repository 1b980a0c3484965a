"""Shared helpers for the tests (not collected as tests), and where things lie for them."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

FOLDER = Path(__file__).resolve().parent  # the helper scripts that tests run as processes
REPO = FOLDER.parents[1]
SHAKESPEARE = REPO.parent / "shared/data/tinyshakespeare.txt"  # beside the checkout, if any


def bench_module(name: str) -> ModuleType:
    """A module of bench/ (not a package), loaded without touching sys.path or sys.modules;
    bench imports nothing from the tests, so what both use lives there."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
