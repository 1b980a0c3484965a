"""Where a corpus comes from: a file, a folder, or a `builtin:NAME` corpus (downloaded
if need be). The one place that spells the `builtin:` prefix.
"""

from __future__ import annotations

import os
from pathlib import Path

from charrnn_tui.engine.data.builtin import builtin_text
from charrnn_tui.engine.data.corpus import Corpus, encode_text, load_path
from charrnn_tui.engine.data.download import Progress

BUILTIN_PREFIX = "builtin:"


def builtin_source(name: str) -> str:
    """The source string of built-in corpus `name`."""
    return f"{BUILTIN_PREFIX}{name}"


def is_builtin(source: str) -> bool:
    return source.startswith(BUILTIN_PREFIX)


def bare_name(source: str) -> str:
    """`source` without the `builtin:` prefix, for names derived from it."""
    return source.removeprefix(BUILTIN_PREFIX)


def canonical(source: str) -> str:
    """The form a model records: a built-in as named, a path made absolute."""
    return source if is_builtin(source) else str(Path(source).expanduser().resolve())


def load_corpus(source: str | Path, *, encoding: str | None = None,
                home: str | os.PathLike | None = None,
                progress: Progress | None = None) -> Corpus:
    """Load a text file, a folder of text files, or a `builtin:NAME` corpus.

    `home` is the data home a downloaded built-in (Tiny Shakespeare) is kept in;
    `progress` hears how its download goes.
    """
    spec = str(source)
    if is_builtin(spec):
        return encode_text(builtin_text(bare_name(spec), home, progress), spec)
    return load_path(Path(spec).expanduser(), encoding=encoding)


def source_of(corpus_info: dict) -> str | None:
    """Where a model's corpus can be read again: its built-in name, or its absolute path if
    that is still a regular file or a folder; None otherwise. The record comes from a model
    file, i.e. from anyone: it must not get a FIFO or /dev/zero read."""
    source = corpus_info.get("source") or corpus_info.get("name") or ""
    if not isinstance(source, str):
        return None
    if is_builtin(source):
        return source
    path = Path(source)
    return source if path.is_absolute() and (path.is_file() or path.is_dir()) else None
