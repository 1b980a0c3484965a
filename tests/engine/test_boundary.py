"""The engine stays free of UI libraries: importing it never pulls in textual or rich."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys


def _engine_modules() -> tuple[str, ...]:
    """Every module of the engine, found on disk, so a new one is covered without an edit."""
    import charrnn_tui.engine as engine

    found = pkgutil.walk_packages(engine.__path__, prefix=f"{engine.__name__}.")
    return (engine.__name__, *sorted(m.name for m in found))


def _loaded_after_import(modules: tuple[str, ...]) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"for m in {list(modules)!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_imports_neither_textual_nor_rich():
    modules = _engine_modules()
    assert "charrnn_tui.engine.training.trainer" in modules  # the walk really finds modules
    loaded = _loaded_after_import(modules)
    assert set(modules) <= loaded
    assert "charrnn_tui.engine" in loaded and "torch" in loaded  # the import really happened
    assert "engine" not in loaded  # only ever imported under its installed name
    assert "textual" not in loaded
    assert "rich" not in loaded


def test_cli_module_import_does_not_pull_in_the_ui():
    """Parsing arguments must stay cheap: the app is imported only when it is opened."""
    loaded = _loaded_after_import(("charrnn_tui.cli",))
    assert "charrnn_tui" in loaded
    assert "textual" not in loaded
