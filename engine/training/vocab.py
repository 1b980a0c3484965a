"""Fitting a corpus to a model's vocabulary: remap, replace unknown characters, or grow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.errors import CharRNNError, ConfigError
from charrnn_tui.engine.models import ModelSpec, family_of

if TYPE_CHECKING:
    import torch

POLICIES = ("refuse", "map", "extend")


class VocabError(CharRNNError):
    """The corpus has characters the model never saw, and the policy is to refuse."""


def _show(chars: list[str], limit: int = 20) -> str:
    shown = " ".join(repr(c) for c in chars[:limit])
    return shown + (f" … (+{len(chars) - limit} more)" if len(chars) > limit else "")


def new_characters(corpus: Corpus, vocab: list[str]) -> list[str]:
    known = set(vocab)
    return [c for c in corpus.chars if c not in known]


def remap(corpus: Corpus, vocab: list[str], replacement: str | None = None) -> np.ndarray:
    """`corpus.data` re-encoded in `vocab`; unknown characters become `replacement`."""
    index = {c: i for i, c in enumerate(vocab)}
    missing = [c for c in corpus.chars if c not in index]
    if missing and replacement is None:
        raise VocabError(f"the corpus has {len(missing)} character(s) the model never saw: "
                         f"{_show(missing)}; refuse, map them to a replacement, or extend")
    fallback = index[replacement] if replacement is not None else 0
    table = np.array([index.get(c, fallback) for c in corpus.chars],
                     dtype=np.uint8 if len(vocab) <= 256 else np.uint16)
    return table[corpus.data]


def default_replacement(vocab: list[str]) -> str:
    return " " if " " in vocab else vocab[0]


def _grow(t: torch.Tensor, axis: int, extra: int) -> torch.Tensor:
    import torch

    """Append `extra` rows (or columns) initialised like small fresh weights."""
    shape = list(t.shape)
    shape[axis] = extra
    fresh = torch.randn(shape, dtype=t.dtype) * (0.01 if t.dim() > 1 else 0.0)
    return torch.cat([t, fresh], dim=axis)


def extend(ckpt: Checkpoint, chars: list[str]) -> Checkpoint:
    """Append `chars` to the vocabulary and grow the embedding and head to match.

    Existing rows are kept so the model remembers what it learned. The optimizer state no
    longer fits the grown tensors and is dropped; training restarts it.
    """
    if not chars:
        return ckpt
    spec = ModelSpec.from_dict(ckpt.spec.to_dict() | {"vocab": ckpt.spec.vocab + chars})
    tensors = dict(ckpt.tensors)
    for name, axis in family_of(spec).vocab_axes.items():
        tensors[name] = _grow(tensors[name], axis, len(chars))
    return Checkpoint(spec.validate(), tensors, {}, {}, ckpt.state, ckpt.config, ckpt.corpus)


def fit_corpus(ckpt: Checkpoint, corpus: Corpus, policy: str = "refuse",
               replacement: str | None = None) -> tuple[Checkpoint, np.ndarray, str | None]:
    """Apply a policy for new characters; returns (checkpoint, data, notice or None)."""
    if policy not in POLICIES:
        raise ConfigError(f"policy must be one of {', '.join(POLICIES)}")
    missing = new_characters(corpus, ckpt.spec.vocab)
    if not missing:
        return ckpt, remap(corpus, ckpt.spec.vocab), None
    if policy == "refuse":
        remap(corpus, ckpt.spec.vocab)  # raises with the list of characters
    if policy == "map":
        rep = replacement or default_replacement(ckpt.spec.vocab)
        if rep not in ckpt.spec.vocab:
            raise VocabError(f"replacement {rep!r} is not in the model's vocabulary")
        return ckpt, remap(corpus, ckpt.spec.vocab, rep), (
            f"mapped {len(missing)} new character(s) to {rep!r}: {_show(missing)}")
    grown = extend(ckpt, missing)
    return grown, remap(corpus, grown.spec.vocab), (
        f"extended the vocabulary by {len(missing)} character(s): {_show(missing)}; "
        "the optimizer state restarts")
