"""Model names the app proposes: derived from the corpus and model, never taken already."""

from __future__ import annotations

import re
from pathlib import Path

from charrnn_tui.engine.data.sources import bare_name
from charrnn_tui.engine.storage.store import ModelStore


def name_stem(corpus_name: str) -> str:
    """'my input.txt' → 'my-input': a corpus name made fit to start a model name."""
    stem = Path(bare_name(corpus_name)).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._") or "model"


def default_name(corpus_name: str, cell: str, layers: int, hidden: int) -> str:
    """'input.txt' + lstm 2×256 → 'input-lstm-2x256' (the CLI's pattern)."""
    return f"{name_stem(corpus_name)}-{cell}-{layers}x{hidden}"[:64]


def free_name(store: ModelStore, base: str) -> str:
    """`base`, or `base-2`, `base-3`… whichever no model has yet."""
    name, n = base, 2
    while store.exists(name):
        name, n = f"{base}-{n}", n + 1
    return name
