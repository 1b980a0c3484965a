"""Corpora that need no file from the user: two ship with every CPython, one is downloaded.

Texts are built on demand, never at import, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charrnn_tui.engine.data.corpus import CorpusError
from charrnn_tui.engine.data.download import Progress, ensure_tinyshakespeare

PYTHON_SOURCE_CHARS = 2_000_000  # about 2 MB: big enough to learn from, quick to encode


@dataclass(frozen=True)
class BuiltinCorpus:
    name: str
    title: str
    description: str
    needs_download: bool


BUILTINS: list[BuiltinCorpus] = [
    BuiltinCorpus("python-docs", "Python documentation",
                  "About 0.5 MB of English prose: the help topics of the Python docs.", False),
    BuiltinCorpus("python-source", "Python standard library source",
                  "About 2 MB of Python code: standard-library modules, in name order.", False),
    BuiltinCorpus("tinyshakespeare", "Tiny Shakespeare",
                  "About 1 MB of Shakespeare's plays; downloaded once (needs network).", True),
]


def python_docs() -> str:
    """The English text of `help()`'s topics, in topic-name order."""
    try:
        from pydoc_data.topics import topics
    except ImportError:
        raise CorpusError("python-docs: this Python was installed without pydoc_data") from None
    return "\n\n".join(topics[key].strip("\n") for key in sorted(topics))


def python_source(limit: int = PYTHON_SOURCE_CHARS) -> str:
    """Top-level standard-library modules in sorted order until about `limit` characters.

    Only the top level is read, so tests and site-packages never change the
    result: the same Python install always yields the same text.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts: list[str] = []
    size = 0
    for path in sorted(stdlib.glob("*.py")):
        if size >= limit:
            break
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        parts.append(text)
        size += len(text)
    if not parts:
        raise CorpusError(f"python-source: no readable standard-library sources in {stdlib}")
    return "\n".join(parts)


def tinyshakespeare(home: str | os.PathLike | None = None,
                    progress: Progress | None = None) -> str:
    """The downloaded Tiny Shakespeare text, fetching and verifying it on first use."""
    path = ensure_tinyshakespeare(home, progress=progress)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"tinyshakespeare: cannot read {path} ({e})") from None


_LOADERS: dict[str, Callable[[str | os.PathLike | None, Progress | None], str]] = {
    "python-docs": lambda home, progress: python_docs(),
    "python-source": lambda home, progress: python_source(),
    "tinyshakespeare": tinyshakespeare,
}


def builtin_text(name: str, home: str | os.PathLike | None = None,
                 progress: Progress | None = None) -> str:
    """The text of built-in corpus `name`; `home` and `progress` only matter for downloaded
    ones (where the file is kept, and how its download goes)."""
    loader = _LOADERS.get(name)
    if loader is None:
        names = ", ".join(b.name for b in BUILTINS)
        raise CorpusError(f"unknown built-in corpus {name!r}; choose one of: {names}")
    return loader(home, progress)
