"""Messages between panes and from worker threads; each pane handles its own, the app routes.

A message a single pane or screen posts to itself lives beside it (the Playground's
CandidatesReady, the race screen's RaceEvents); these are the ones the app routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from textual.message import Message

if TYPE_CHECKING:
    from charrnn_tui.engine.checkpoint import Checkpoint
    from charrnn_tui.engine.data.corpus import Corpus
    from charrnn_tui.engine.models import ArrayModel, Model
    from charrnn_tui.engine.training.events import Event, Finished

Purpose = Literal["play", "resume"]  # what a loaded model is for


@dataclass
class CorpusLoaded(Message):
    """A corpus finished loading (posted from the loading thread)."""

    source: str
    corpus: Corpus


@dataclass
class CorpusFailed(Message):
    """A corpus could not be loaded; `error` says why."""

    source: str
    error: str


@dataclass
class DownloadProgress(Message):
    """Bytes of a built-in corpus downloaded so far, of `total` when the server says."""

    done: int
    total: int | None


@dataclass
class TrainEvents(Message):
    """A batch of engine events from the training thread, in order."""

    events: list[Event]


@dataclass
class TrainingEnded(Message):
    """Training returned (finished set) or failed (error set); model is a copy to sample from."""

    name: str
    finished: Finished | None = None
    ckpt: Checkpoint | None = None
    model: Model | ArrayModel | None = None
    error: str | None = None


@dataclass
class ModelLoadFailed(Message):
    """A saved model could not be loaded (posted from the loading thread)."""

    name: str
    error: str


@dataclass
class ModelReady(Message):
    """A model to sample from ("play") or to continue training ("resume") under `name`.

    `copy_of` names the read-only model a resumed copy came from.
    """

    name: str
    ckpt: Checkpoint
    model: Model | ArrayModel
    purpose: Purpose
    copy_of: str | None = None


@dataclass
class ModelRenamed(Message):
    """A saved model was renamed to `new`, or deleted (`new` is None)."""

    old: str
    new: str | None


@dataclass
class ModelSavedAs(Message):
    """The Playground's model `old` was saved as the new model `new`, which it now is."""

    old: str
    new: str


@dataclass
class StreamPrimed(Message):
    """The sampler read the seed; `skipped` are characters the model does not know."""

    stream: int
    skipped: list[str]


@dataclass
class StreamEnded(Message):
    """The sampling thread of stream number `stream` returned after `count` characters."""

    stream: int
    count: int
    error: str | None = None


@dataclass
class TorchLoaded(Message):
    """PyTorch finished loading in the background (torch_loader.py); `error` if it failed."""

    error: str | None = None
