"""The reference lines of a loss chart: what context-free and one-character-context models
score on the corpus, and what the shipped model scored on it, if it was trained on it."""

from __future__ import annotations

import threading

import numpy as np

from charrnn_tui.confine import readable_source
from charrnn_tui.engine.analysis.entropy import ReferenceLosses, reference_losses
from charrnn_tui.engine.data.corpus import TRAIN_FRACTION
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.storage.modelfile import read_meta
from charrnn_tui.engine.storage.store import ModelStore

_cache: dict[tuple[str, float], ReferenceLosses] = {}  # (sha256, train fraction) →
_lock = threading.Lock()

References = list[tuple[str, float]]


def entropies(data: np.ndarray, sha256: str = "",
              train_fraction: float = TRAIN_FRACTION) -> ReferenceLosses:
    """The corpus's reference entropies, remembered by content hash (a pass over a large
    corpus takes a moment, and every chart of the same corpus asks again)."""
    key = (sha256, train_fraction)
    with _lock:
        if sha256 and key in _cache:
            return _cache[key]
    ref = reference_losses(data, train_fraction)
    if sha256:
        with _lock:
            _cache[key] = ref
    return ref


def shipped_val(store: ModelStore, sha256: str) -> float | None:
    """The validation loss of a shipped model trained on the corpus with this hash."""
    if not sha256:
        return None
    for path in store.read_only.values():
        try:
            meta = read_meta(path)
        except CharRNNError:
            continue
        if meta["corpus"].get("sha256") == sha256:
            return meta["state"].get("last_val")
    return None


def corpus_references(data: np.ndarray, sha256: str, store: ModelStore | None,
                      train_fraction: float = TRAIN_FRACTION) -> References:
    lines = entropies(data, sha256, train_fraction).lines()
    shipped = shipped_val(store, sha256) if store is not None else None
    if shipped is not None:
        lines.append(("shipped model", shipped))
    return lines


def recorded_references(corpus_info: dict, store: ModelStore | None,
                        home: str | None = None) -> tuple[References, str | None]:
    """Reference lines for runs on the corpus a model file records, read again from where
    it was loaded; returns (lines, why there are none). Runs on the main thread's behalf
    only from a worker: it reads the corpus."""
    source = readable_source(corpus_info)
    if source is None:
        return [], "no reference lines: the runs' corpus is not readable here"
    sha = corpus_info.get("sha256", "")
    try:
        corpus = load_corpus(source, encoding=corpus_info.get("encoding"), home=home)
    except (CharRNNError, OSError) as e:
        return [], f"no reference lines: {e}"
    if sha and corpus.sha256 != sha:
        return [], f"no reference lines: {source} has changed since the runs were trained"
    return corpus_references(corpus.data, corpus.sha256, store), None
