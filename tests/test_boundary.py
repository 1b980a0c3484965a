"""The engine stays free of UI libraries: importing it never pulls in textual or rich."""

from __future__ import annotations

import json
import subprocess
import sys

ENGINE_MODULES = ("charrnn_tui.engine", "charrnn_tui.engine.trainer", "charrnn_tui.engine.store",
                  "charrnn_tui.engine.sampler", "charrnn_tui.engine.modelfile",
                  "charrnn_tui.engine.builtin", "charrnn_tui.engine.download")


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
    loaded = _loaded_after_import(ENGINE_MODULES)
    assert "charrnn_tui.engine" in loaded and "torch" in loaded  # the import really happened
    assert "engine" not in loaded  # only ever imported under its installed name
    assert "textual" not in loaded
    assert "rich" not in loaded


def test_cli_module_import_does_not_pull_in_the_ui():
    """Parsing arguments must stay cheap: the app is imported only when it is opened."""
    loaded = _loaded_after_import(("charrnn_tui.cli",))
    assert "charrnn_tui" in loaded
    assert "textual" not in loaded
