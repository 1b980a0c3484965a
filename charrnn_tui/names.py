"""Model names the app proposes: derived from the corpus and model, never taken already."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from charrnn_tui.engine.data.sources import bare_name
from charrnn_tui.engine.storage.store import ModelStore, NameInUse


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


def claim_free_name(store: ModelStore, base: str) -> tuple[str, str | None]:
    """The first of `base`, `base-2`, `base-3`… that no model has, claimed for training at
    once; and a notice when names were skipped because another process (an app, another
    `train`) is training under them and has not saved yet, so no file shows them taken."""
    skipped = []
    for n in itertools.count(1):
        name = base if n == 1 else f"{base}-{n}"
        if store.exists(name):
            continue
        try:
            store.create(name)
        except NameInUse:
            skipped.append(name)
            continue
        notice = (f"{', '.join(skipped)}: being trained by another process; saving as "
                  f"{name}") if skipped else None
        return name, notice
    raise AssertionError("unreachable")
