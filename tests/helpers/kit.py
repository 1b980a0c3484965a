"""Tiny corpora, specs and checkpoints shared by the engine, store and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# A short, highly repetitive text: a model can learn it in a few hundred steps.
from charrnn_tui.engine.checkpoint import Checkpoint, TrainState
from charrnn_tui.engine.data.corpus import Corpus, encode_text
from charrnn_tui.engine.models import ModelSpec, build_model, tensors_of

# A short, highly repetitive text: a model can learn it in a few hundred steps.
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.trainer import Trainer

# A short, highly repetitive text: a model can learn it in a few hundred steps.
TEXT = "the cat sat on the mat. the dog sat on the log. " * 24
ALPHABET = sorted(set(TEXT))

# One small architecture per implementation (and cell) worth checking.
SPECS = {
    "torch-lstm": dict(impl="torch", cell="lstm", layers=2, hidden=16, embed=8),
    "torch-gru": dict(impl="torch", cell="gru", layers=1, hidden=16, embed=8),
    "scratch-lstm": dict(impl="scratch", cell="lstm", layers=1, hidden=16, embed=8),
    "scratch-gru": dict(impl="scratch", cell="gru", layers=1, hidden=16, embed=8),
    "numpy": dict(impl="numpy", cell="rnn", layers=1, hidden=16, embed=8),
}
IMPLS = {"torch": SPECS["torch-lstm"], "scratch": SPECS["scratch-gru"], "numpy": SPECS["numpy"]}


def corpus(text: str = TEXT) -> Corpus:
    return encode_text(text, "tiny.txt")


def spec(kind: str, vocab: list[str] | None = None, **over) -> ModelSpec:
    fields = dict(IMPLS.get(kind) or SPECS[kind]) | over
    return ModelSpec(**fields, vocab=list(vocab or ALPHABET)).validate()


def config(**over) -> TrainConfig:
    base = dict(batch=4, seq=8, max_steps=20, precision="fp32", device="cpu", eval_every=1e9,
                report_every=0.0, autosave_every=0, eval_batch=4, eval_seq=32, seed=7)
    return TrainConfig(**(base | over))


def trainer(kind: str, text: str = TEXT, seed: int = 0, **cfg) -> Trainer:
    c = corpus(text)
    return Trainer(build_model(spec(kind, c.chars), seed), c.data, config(**cfg),
                   corpus_info={"name": "tiny.txt", "source": "tiny.txt"})


def checkpoint(kind: str, vocab: list[str] | None = None, seed: int = 0, **over) -> Checkpoint:
    s = spec(kind, vocab, **over)
    model = build_model(s, seed)
    return Checkpoint(s, tensors_of(model), {}, {}, TrainState(), {}, {"name": "tiny.txt"})


def trained_file_bytes(folder: Path, kind: str, steps: int = 2) -> bytes:
    """A small model trained `steps` steps (so it has optimizer state), as file bytes."""
    from charrnn_tui.engine.storage import modelfile

    trained = trainer(kind, max_steps=steps)
    trained.run()
    path = folder / f"{kind}.safetensors"
    modelfile.save(path, trained.checkpoint())
    return path.read_bytes()


def write_text(path: Path, text: str = TEXT) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def logits_of(model, ids: list[int]) -> np.ndarray:
    """float64 logits of a single stream, whatever the implementation."""
    import torch

    from charrnn_tui.engine.models import NumpyRNN

    if isinstance(model, NumpyRNN):
        out, _ = model.forward(np.array([ids]), model.init_state(1))
        return np.asarray(out, dtype=np.float64)
    model.eval()
    with torch.no_grad():
        out, _ = model(torch.tensor([ids]), model.init_state(1))
    return out.double().numpy()


class one_torch_thread:
    """Context manager: torch on one intra-op thread.

    Tiny models gain nothing from more, and on a busy machine spinning OpenMP threads
    make them tens of times slower.
    """

    def __enter__(self):
        import torch

        self.saved = torch.get_num_threads()
        torch.set_num_threads(1)
        return self

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.saved)
