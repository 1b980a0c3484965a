"""Files that ship with the package, and the model store the app and CLI share."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from charrnn_tui.engine.paths import models_dir
from charrnn_tui.engine.storage.store import ModelStore


def shipped_models() -> list[Path]:
    """The read-only pretrained model files bundled in `assets/`."""
    folder = Path(str(files("charrnn_tui.assets")))
    return sorted(folder.glob("*.safetensors"))


def open_store(home: str | None = None) -> ModelStore:
    """The user's model store ($CHARRNN_TUI_HOME or --home), with shipped models listed."""
    return ModelStore(models_dir(home), read_only_models=shipped_models())
