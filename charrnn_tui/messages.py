"""Messages between panes and from worker threads; each pane handles its own, the app routes."""

from __future__ import annotations

from textual.message import Message

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.training.events import Event, Finished


class CorpusLoaded(Message):
    """A corpus finished loading (posted from the loading thread)."""

    def __init__(self, source: str, corpus: Corpus) -> None:
        super().__init__()
        self.source = source
        self.corpus = corpus


class CorpusFailed(Message):
    def __init__(self, source: str, error: str) -> None:
        super().__init__()
        self.source = source
        self.error = error


class DownloadProgress(Message):
    def __init__(self, done: int, total: int | None) -> None:
        super().__init__()
        self.done = done
        self.total = total


class TrainEvents(Message):
    """A batch of engine events from the training thread, in order."""

    def __init__(self, events: list[Event]) -> None:
        super().__init__()
        self.events = events


class TrainingEnded(Message):
    """Training returned (finished set) or failed (error set); model is a copy to sample from."""

    def __init__(self, name: str, finished: Finished | None = None,
                 ckpt: Checkpoint | None = None, model: object = None,
                 error: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.finished = finished
        self.ckpt = ckpt
        self.model = model
        self.error = error


class ModelLoadFailed(Message):
    """A saved model could not be loaded (posted from the loading thread)."""

    def __init__(self, name: str, error: str) -> None:
        super().__init__()
        self.name = name
        self.error = error


class ModelReady(Message):
    """A model to sample from ("play") or to continue training ("resume") under `name`.

    `copy_of` names the read-only model a resumed copy came from.
    """

    def __init__(self, name: str, ckpt: Checkpoint, model: object, purpose: str,
                 copy_of: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.ckpt = ckpt
        self.model = model
        self.purpose = purpose
        self.copy_of = copy_of


class ModelRenamed(Message):
    """A saved model was renamed to `new`, or deleted (`new` is None)."""

    def __init__(self, old: str, new: str | None) -> None:
        super().__init__()
        self.old = old
        self.new = new


class ModelSavedAs(Message):
    """The Playground's model `old` was saved as the new model `new`, which it now is."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old = old
        self.new = new


class StreamPrimed(Message):
    """The sampler read the seed; `skipped` are characters the model does not know."""

    def __init__(self, stream: int, skipped: list[str]) -> None:
        super().__init__()
        self.stream = stream
        self.skipped = skipped


class StreamEnded(Message):
    """The sampling thread of stream number `stream` returned after `count` characters."""

    def __init__(self, stream: int, count: int, error: str | None = None) -> None:
        super().__init__()
        self.stream = stream
        self.count = count
        self.error = error


class TorchLoaded(Message):
    """PyTorch finished loading in the background (torch_loader.py); `error` if it failed."""

    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error
