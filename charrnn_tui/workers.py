"""Work off the UI thread: the one way to start it, and the jobs that run there.

`run_in_thread` runs a function on a Textual thread worker and posts its result, or
its error as text, as the caller's own typed messages: `post_message` is thread-safe
and, unlike `call_from_thread`, never blocks. The jobs below never touch a widget:
the trainer's events are batched and posted as messages, and sampled characters go
into a small lock-protected buffer that the UI drains on a timer (`streaming.py`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.generation.search import Candidate, Rank, beam_search, rank, sample_n
from charrnn_tui.engine.models import restore_arrays
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.threads import use_threads
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.events import Event, Finished, Progress

if TYPE_CHECKING:  # the training stack imports torch: only training threads load it
    from textual.dom import DOMNode
    from textual.message import Message
    from textual.worker import Worker

    from charrnn_tui.engine.models import ArrayModel, Model
    from charrnn_tui.engine.training.trainer import Saver, Trainer
    from charrnn_tui.streaming import HandOff

R = TypeVar("R")


def error_text(error: BaseException) -> str:
    """How the UI words a job's failure: a refusal (CharRNNError) by its own reason, which
    is written for the user; anything else, a bug, with its type, so it can be reported."""
    return str(error) if isinstance(error, CharRNNError) else f"{type(error).__name__}: {error}"


def run_in_thread(owner: DOMNode, job: Callable[[], R], done: Callable[[R], Message],
                  failed: Callable[[str], Message], *, group: str) -> Worker[None]:
    """Run `job` on a thread worker of `owner`; post `done(result)` to `owner`, or
    `failed(error_text(e))` if it raised, so the app stays up and says why.

    The worker is exclusive in `group`: a new job cancels the worker of the last one,
    but a thread cannot be stopped, so the last job's message may still arrive; each
    handler checks that its message is about what the owner shows now.
    """

    def run() -> None:
        try:
            result = job()
        except Exception as e:  # reported through `failed`; the app stays up
            owner.post_message(failed(error_text(e)))
        else:
            owner.post_message(done(result))

    return owner.run_worker(run, thread=True, exclusive=True, exit_on_error=False,
                            group=group)


async def join_worker(worker: Worker | None, timeout: float = 2.0) -> None:
    """Wait for a thread worker to finish, up to `timeout`, without blocking the UI loop."""
    deadline = time.monotonic() + timeout
    while worker is not None and not worker.is_finished and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def make_trainer(corpus: Corpus, source: str | None, arch: dict, config: TrainConfig,
                 resume: Checkpoint | None = None,
                 new_chars: str = "refuse") -> tuple[Trainer, str | None]:
    """A Trainer for a fresh model, or for `resume` on this corpus; ValueError says why not.

    Runs on the training thread: the first optimizer pulls in torch._dynamo, which
    takes seconds. Returns a notice when the corpus had to be fitted to the model.
    """
    from charrnn_tui.engine.models import ModelSpec, build_model
    from charrnn_tui.engine.training.resume import resume_trainer
    from charrnn_tui.engine.training.trainer import Trainer

    info = corpus.info(source)
    if resume is None:
        model = build_model(ModelSpec(**arch, vocab=corpus.chars), seed=config.seed)
        return Trainer(model, corpus.data, config, corpus_info=info), None
    return resume_trainer(resume, corpus, config, corpus_info=info, policy=new_chars)


def store_saver(store: ModelStore, name: str) -> Saver:
    """The trainer's autosave hook: writes the checkpoint under `name` in the store."""

    def save(ckpt: Checkpoint, tag: str) -> str | None:
        store.save(ckpt, name, tag)
        return None

    return save


class EventBatcher:
    """Collects trainer events on the training thread and posts them 4 times a second.

    Progress arrives at `report_every`; anything else (evaluations, samples, notices,
    the end) is rare and worth showing at once, so it flushes the batch immediately.
    Not more often: drawing holds the GIL that the training thread's steps need. At 10
    posts a second (and the chart redrawn every 0.3 s) the app's own thread took ~20% of a
    core while training; at 4 (charts every 0.5 s), 9-14%.
    """

    def __init__(self, post: Callable[[list[Event]], None], interval: float = 0.25):
        self._post = post
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._last = 0.0

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event)
            now = time.monotonic()
            if not isinstance(event, Progress) or now - self._last >= self._interval:
                self._flush_locked(now)

    def flush(self) -> None:
        with self._lock:
            self._flush_locked(time.monotonic())

    def _flush_locked(self, now: float) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            self._post(batch)
        self._last = now


def run_training(trainer: Trainer, post: Callable[[list[Event]], None],
                 saver: Saver | None) -> tuple[Finished, Checkpoint, Model]:
    """Train to the end; return the result, a checkpoint, and a model copy for sampling.

    The copy is built here, on the training thread, where the weights are at rest:
    the playground must never share the live training model.
    """
    from charrnn_tui.engine.models import restore_model
    from charrnn_tui.engine.threads import training_tuner

    batcher = EventBatcher(post)
    tuner = training_tuner()  # this thread's own count, chosen by timing the steps
    try:
        finished = trainer.run(batcher, saver, tuner)
    finally:
        batcher.flush()
    ckpt = trainer.checkpoint()
    return finished, ckpt, restore_model(ckpt)


def load_model(store: ModelStore, name: str) -> tuple[Checkpoint, Model | ArrayModel]:
    """A saved model's checkpoint and a model to sample from; StoreError/ModelFileError on
    failure. Read as arrays, without torch: the Playground samples in numpy on the CPU, and
    whatever trains or inspects it converts the arrays (Checkpoint.as_torch)."""
    ckpt, _ = modelfile.load_arrays(store.resolve(name))
    return ckpt, restore_arrays(ckpt.spec, ckpt.tensors)


def stream_chars(sampler: Sampler, seed: str | None, length: int, buffer: HandOff[str],
                 stop: threading.Event, on_primed: Callable[[list[str]], None]) -> int:
    """Prime with `seed` (None: continue from the current state), then generate into `buffer`.

    Returns how many characters were generated. `sampler.params` is read at every
    character, so the UI thread changes temperature and friends while this runs.
    """
    use_threads("generate")
    if seed is not None:
        on_primed(sampler.prime(seed))
    count = 0
    while count < length and not stop.is_set():
        buffer.put(sampler.next_char(), stop)
        count += 1
        if sampler.params.stop and sampler.stopped():
            break
    return count


def compare_candidates(sampler: Sampler, seed: str, length: int, *, n: int, beam: int,
                       rank_by: Rank) -> list[Candidate]:
    """`n` ranked samples (or the `beam` best by beam search) of what follows `seed`.

    Runs on its own Sampler over the same read-only weights and a frozen copy of the
    settings, so the Playground's own stream state and its branch trail stay as they are.
    """
    use_threads("generate")
    own = Sampler(sampler.model, sampler.vocab, params=replace(sampler.params))
    if beam:
        return beam_search(own, seed, beam, length)
    return rank(sample_n(own, seed, n, length), rank_by)
