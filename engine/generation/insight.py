"""Looking inside a model: per-character confidence, unit activations, interesting cells.

Everything here works one character at a time with the model's own incremental state, so
it serves a finished text and a live stream alike, for all three implementations.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models.stepper import Stepper

if TYPE_CHECKING:
    from charrnn_tui.engine.models import Model

TOP = 5


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    return z / z.sum()


def activations(model: Model, state) -> dict[str, np.ndarray]:
    """(layers, hidden) float32 arrays of a single-stream state, by kind ('hidden', 'cell')."""
    out = {}
    for kind, t in model.layer_states(state).items():
        a = np.asarray(t) if isinstance(t, np.ndarray) else t.detach().float().cpu().numpy()
        out[kind] = a[:, 0].astype(np.float32)
    return out


def top_candidates(probs: np.ndarray, vocab: list[str], k: int = TOP) -> list[tuple[str, float]]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [(vocab[i], float(probs[i])) for i in order]


@dataclass
class Trace:
    """What the model saw and thought at each character of `text`."""

    text: str
    vocab: list[str]
    probs: np.ndarray  # (n,) probability the model gave each character before seeing it
    next_probs: np.ndarray  # (n, vocab) distribution for the character after each one
    acts: dict[str, np.ndarray] = field(default_factory=dict)  # kind → (n, layers, hidden)
    skipped: list[str] = field(default_factory=list)

    def candidates(self, i: int, k: int = TOP) -> list[tuple[str, float]]:
        return top_candidates(self.next_probs[i], self.vocab, k)

    def unit(self, kind: str, layer: int, unit: int) -> np.ndarray:
        return self.acts[kind][:, layer, unit]


def trace(model: Model, vocab: list[str], text: str, *, context: str = "\n") -> Trace:
    """Feed `text` one character at a time after `context`, recording what the model did.

    Runs on the fast step (the same one the Playground streams with), whose weights need
    no gradients. Characters outside the vocabulary are skipped and listed in
    `Trace.skipped`.
    """
    if hasattr(model, "eval"):
        model.eval()
    index = {c: i for i, c in enumerate(vocab)}
    skipped = list(dict.fromkeys(c for c in text if c not in index))
    kept = "".join(c for c in text if c in index)
    stepper = Stepper(model)
    st = stepper.from_model(model.init_state(1, stepper.device))
    ids = np.zeros(1, dtype=np.intp)

    def feed(c: str) -> np.ndarray:
        ids[0] = index[c]
        return stepper.step(ids, st)[0].astype(np.float64)  # a copy: the step reuses it

    logits = None
    for c in context:
        if c in index:
            logits = feed(c)
    n = len(kept)
    probs = np.full(n, np.nan)
    next_probs = np.zeros((n, len(vocab)), dtype=np.float32)
    acts: dict[str, list[np.ndarray]] = {}
    for i, c in enumerate(kept):
        if logits is not None:
            probs[i] = softmax(logits)[index[c]]
        logits = feed(c)
        next_probs[i] = softmax(logits)
        for kind, a in activations(model, stepper.to_model(st)).items():
            acts.setdefault(kind, []).append(a)
    return Trace(kept, vocab, probs, next_probs,
                 {k: np.stack(v) for k, v in acts.items()}, skipped)


def regex_mask(text: str, pattern: str) -> np.ndarray:
    """1.0 for characters inside a match of `pattern`, else 0.0. Bad patterns raise CharRNNError."""
    try:
        rx = re.compile(pattern, re.DOTALL)
    except re.error as e:
        raise CharRNNError(f"bad regular expression: {e}") from None
    mask = np.zeros(len(text))
    for m in rx.finditer(text):
        mask[m.start():m.end()] = 1.0
    return mask


@dataclass(frozen=True)
class UnitScore:
    kind: str
    layer: int
    unit: int
    correlation: float


def rank_units(tr: Trace, mask: np.ndarray, top: int = 10) -> list[UnitScore]:
    """Units whose activation correlates best (by |Pearson r|) with `mask`."""
    if mask.std() == 0:
        raise CharRNNError("the pattern matches everywhere or nowhere in this text")
    m = (mask - mask.mean()) / mask.std()
    scores: list[UnitScore] = []
    for kind, a in tr.acts.items():
        flat = a.reshape(len(a), -1).astype(np.float64)
        std = flat.std(axis=0)
        r = ((flat - flat.mean(axis=0)) * m[:, None]).mean(axis=0) / np.where(std > 0, std, 1)
        r[std == 0] = 0.0
        hidden = a.shape[2]
        for j in np.argsort(-np.abs(r))[:top]:
            scores.append(UnitScore(kind, int(j // hidden), int(j % hidden), float(r[j])))
    scores.sort(key=lambda s: -abs(s.correlation))
    return scores[:top]


def _confidence_colour(p: float) -> str:
    """Red for a surprise, through yellow, to green for a confident, correct guess."""
    if np.isnan(p):
        return "#888888"
    r, g = (255, int(510 * p)) if p < 0.5 else (int(510 * (1 - p)), 255)
    return f"#{r:02x}{g:02x}40"


def _activation_colour(a: float) -> str:
    """Blue for negative, red for positive, white near zero (Karpathy's palette)."""
    a = float(np.clip(a, -1, 1))
    fade = int(255 * (1 - abs(a)))
    return f"#ff{fade:02x}{fade:02x}" if a > 0 else f"#{fade:02x}{fade:02x}ff"


def colours(tr: Trace, view: str = "confidence", kind: str = "hidden", layer: int = 0,
            unit: int = 0) -> list[str]:
    """One background colour per character for the confidence or a neuron view."""
    if view == "confidence" or not len(tr.probs):  # no text yet: no activations recorded
        return [_confidence_colour(p) for p in tr.probs]
    return [_activation_colour(a) for a in tr.unit(kind, layer, unit)]


def to_html(tr: Trace, view: str = "confidence", kind: str = "hidden", layer: int = 0,
            unit: int = 0, title: str = "charrnn-tui") -> str:
    """A standalone HTML page of the text coloured per character, with hover tooltips."""
    spans = []
    for i, (c, bg) in enumerate(zip(tr.text, colours(tr, view, kind, layer, unit), strict=True)):
        tip = (f"p={tr.probs[i]:.3f}" if view == "confidence"
               else f"{kind}[{layer}][{unit}]={tr.unit(kind, layer, unit)[i]:+.3f}")
        glyph = "\n" if c == "\n" else html.escape(c)
        spans.append(f'<span style="background:{bg}" title="{tip}">{glyph}</span>')
    label = "confidence" if view == "confidence" else f"{kind} layer {layer} unit {unit}"
    return (f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<h3 style='font-family:sans-serif'>{html.escape(title)}: {label}</h3>"
            "<pre style='font:14px/1.4 monospace;color:#000'>" + "".join(spans) + "</pre>")
