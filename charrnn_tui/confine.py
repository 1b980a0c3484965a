"""Served mode's one rule for files: every path the app reads or writes stays in one folder.

`charrnn-tui serve` starts each browser tab's app with $CHARRNN_TUI_SERVE_ROOT set to its
--root. Then a typed or recorded path is taken relative to that folder, and `..`, an
absolute path elsewhere and a symbolic link leading out are refused in one line. Without
the variable (the terminal app) paths mean what they say.
"""

from __future__ import annotations

import os
from pathlib import Path

from charrnn_tui.engine.data.sources import is_builtin, source_of
from charrnn_tui.engine.errors import CharRNNError

ENV_ROOT = "CHARRNN_TUI_SERVE_ROOT"


class OutsideRoot(CharRNNError):
    """A path that leaves the served folder."""


def served_root() -> Path | None:
    """The folder the served app is confined to; None in the terminal app."""
    root = os.environ.get(ENV_ROOT)
    return Path(root).resolve() if root else None


def confine(path: str | os.PathLike) -> Path:
    """`path` as the app should use it: as typed in the terminal app; in served mode
    resolved inside the root (relative paths start there), else OutsideRoot says why."""
    root = served_root()
    if root is None:
        return Path(path).expanduser()
    typed = Path(path)
    if ".." in typed.parts:
        raise OutsideRoot(f"{path}: '..' is not allowed here; paths stay inside {root}")
    full = typed if typed.is_absolute() else root / typed
    if not full.is_relative_to(root):
        raise OutsideRoot(f"{path} is outside {root}, the only folder this server uses")
    resolved = full.resolve()
    if not resolved.is_relative_to(root):
        raise OutsideRoot(f"{path} is a symbolic link out of {root}, the only folder this "
                          "server uses")
    return resolved


def confined_source(source: str) -> str:
    """A corpus source to load: a built-in as it is, a path confined (see `confine`)."""
    return source if is_builtin(source) else str(confine(source))


def readable_source(corpus_info: dict) -> str | None:
    """`source_of` a model's recorded corpus, but None where served mode may not read it."""
    source = source_of(corpus_info)
    if source is None or served_root() is None:
        return source
    try:
        return confined_source(source)
    except OutsideRoot:
        return None


def within_root(path: str) -> bool:
    """Whether served mode may use `path` (always true in the terminal app)."""
    try:
        confine(path)
    except OutsideRoot:
        return False
    return True


def default_folder(home_folder: Path) -> Path:
    """Where a save or export is offered: `home_folder` in the terminal app, the same
    name inside the root when served."""
    root = served_root()
    return home_folder if root is None else root / home_folder.name
