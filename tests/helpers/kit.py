"""Tiny corpora, specs and checkpoints shared by the engine, store and CLI tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

# A short, highly repetitive text: a model can learn it in a few hundred steps.
from charrnn_tui.engine.checkpoint import Checkpoint, TrainState
from charrnn_tui.engine.data.corpus import Corpus, encode_text
from charrnn_tui.engine.models import ModelSpec, build_model, tensors_of

# A short, highly repetitive text: a model can learn it in a few hundred steps.
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.events import Event, Finished, Progress
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


def run_events(trained: Trainer, on_event=None) -> tuple[Finished, list[Event]]:
    """Train to the end; what `run` returned and every event it sent, in order (each also
    handed to `on_event`)."""
    events: list[Event] = []

    def collect(e: Event) -> None:
        events.append(e)
        if on_event:
            on_event(e)

    return trained.run(collect), events


def device_requests(trained: Trainer, asks: dict[int, str]) -> Callable[[Event], None]:
    """An event hook that asks `trained` to move to `asks[step]` as training reaches that
    step, as the app's GPU switch does."""
    pending = dict(asks)

    def ask(e: Event) -> None:
        if isinstance(e, Progress) and e.step in pending:
            trained.request_device(pending.pop(e.step))

    return ask


def store_model(home: Path, name: str, ckpt: Checkpoint, tags: tuple[str, ...] = ("last",)
                ) -> Path:
    """`ckpt` saved under `name` (as each of `tags`) in the store at `home`; its folder's
    last file written."""
    from charrnn_tui.engine.storage.store import ModelStore

    store = ModelStore(home / "models")
    store.create(name)
    try:
        return [store.save(ckpt, name, tag) for tag in tags][-1]
    finally:
        store.release(name)


def trained_on(corpus_path: Path, kind: str, steps: int) -> Checkpoint:
    """A tiny `kind` model trained `steps` steps on the file `corpus_path`, evaluated at every
    step, its corpus recorded as the file (reference lines and Compare read it again)."""
    c = encode_text(corpus_path.read_text(), corpus_path.name)
    trained = Trainer(build_model(spec(kind, c.chars), 0), c.data,
                      config(max_steps=steps, eval_every=1e-9, gradflow_every=0),
                      corpus_info=c.info(str(corpus_path)))
    with one_torch_thread():
        trained.run()
    return trained.checkpoint()


def trained_file_bytes(folder: Path, kind: str, steps: int = 2) -> bytes:
    """A small model trained `steps` steps (so it has optimizer state), as file bytes."""
    from charrnn_tui.engine.storage import modelfile

    trained = trainer(kind, max_steps=steps)
    trained.run()
    path = folder / f"{kind}.safetensors"
    modelfile.save(path, trained.checkpoint())
    return path.read_bytes()


def stopped_and_resumed(folder: Path, **cfg) -> tuple[Trainer, Trainer, Checkpoint]:
    """A torch LSTM run twice for `cfg` without stopping, and one run once, saved to a model
    file in `folder` and resumed for as long again: (whole, resumed, the file's checkpoint)."""
    from charrnn_tui.engine.storage import modelfile
    from charrnn_tui.engine.training.resume import resume_trainer

    whole = trainer("torch-lstm", **cfg)
    whole.run()
    whole.run()
    first = trainer("torch-lstm", **cfg)
    first.run()
    modelfile.save(folder / "m.safetensors", first.checkpoint())
    ckpt, _ = modelfile.load_arrays(folder / "m.safetensors")
    resumed, _ = resume_trainer(ckpt, corpus(), config(**cfg), corpus_info={})
    resumed.run()
    return whole, resumed, ckpt


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


STEP_KINDS = {  # every implementation and cell, small, as the fast-step tests take them
    **{f"torch-{c}": dict(impl="torch", cell=c, layers=2, hidden=16, embed=8)
       for c in ("lstm", "gru", "rnn")},
    **{f"scratch-{c}": dict(impl="scratch", cell=c, layers=1, hidden=16, embed=8)
       for c in ("lstm", "gru", "rnn")},
    "numpy": dict(impl="numpy", cell="rnn", layers=1, hidden=16, embed=8),
}


def perturbed_model(kind: str):
    """A STEP_KINDS model with trained-looking weights, not the tiny initial ones."""
    import torch

    model = build_model(ModelSpec(**STEP_KINDS[kind], vocab=ALPHABET), seed=3)
    if kind.startswith("numpy"):
        rng = np.random.default_rng(0)
        for p in model.params.values():
            p += rng.standard_normal(p.shape) * 0.3
    else:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.3)
        model.eval()
    return model
