"""Where the app keeps what the user makes: one data home, overridable for tests and --home."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_HOME = "CHARRNN_TUI_HOME"


def data_home(override: str | os.PathLike | None = None) -> Path:
    """`override`, else $CHARRNN_TUI_HOME, else the platform's user data dir."""
    chosen = override or os.environ.get(ENV_HOME) or platformdirs.user_data_dir("charrnn-tui")
    return Path(chosen).expanduser()


def models_dir(home: str | os.PathLike | None = None) -> Path:
    return data_home(home) / "models"


def corpora_dir(home: str | os.PathLike | None = None) -> Path:
    return data_home(home) / "corpora"
