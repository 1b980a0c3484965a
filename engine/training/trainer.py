"""Training loop: truncated BPTT over parallel streams, for all three implementations.

Runs on the calling thread and reports through a callback. Another thread steers it
with `pause`, `resume`, `stop` and `request_device`; all take effect at a chunk boundary.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.analysis.gradflow import gradient_flow
from charrnn_tui.engine.checkpoint import (
    Checkpoint,
    TrainState,
)
from charrnn_tui.engine.data.batching import StreamBatcher
from charrnn_tui.engine.data.corpus import split_at
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.models import Model, ModelSpec, tensors_of
from charrnn_tui.engine.threads import ThreadTuner
from charrnn_tui.engine.training.averaging import WeightAverage
from charrnn_tui.engine.training.backends import backend_for
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.distributed import agree, current_world, share_from_main
from charrnn_tui.engine.training.evaluate import mean_cross_entropy
from charrnn_tui.engine.training.events import (
    Evaluated,
    Event,
    Finished,
    GradientFlow,
    Notice,
    Progress,
    Sampled,
    why_stopped,
)
from charrnn_tui.engine.training.optim import default_lr, default_optimizer
from charrnn_tui.engine.training.precision import resolve_device, seed_device

BAD_STEPS_BEFORE_ROLLBACK = 3
MAX_ROLLBACKS = 3  # then training ends ("diverged"): halving the rate again would not help
HISTORY_LIMIT = 4000  # loss points kept in the model file; older ones are thinned
FLOW_SHARE = 0.04  # most of the training time the gradient-flow diagnostic may take


Saver = Callable[[Checkpoint, str], str | None]  # (checkpoint, "last" | "best") -> message


def _thin(points: list[list[float]]) -> None:
    if len(points) > HISTORY_LIMIT:
        del points[1::2]


def _ignore(event: Event) -> None:
    """What a rank other than the main one does with its events."""


@dataclass
class _Run:
    """One call of `Trainer.run`: where it reports, its clock and its running totals."""

    emit: Callable[[Event], None]
    saver: Saver | None
    threads: ThreadTuner | None
    main: bool  # rank 0, or the only process: it reports, evaluates and saves
    n_chunks: int
    origin: tuple[int, float, float]  # (step, seconds, epoch position) budgets count from
    began_seconds: float  # the model's training time when this attempt began
    began_step: int
    chars_at_start: int
    flow_every: float
    state: TrainState
    hidden: object
    start: float = field(default_factory=time.perf_counter)  # moved on by pauses
    now: float = 0.0  # when this step's periodic work was decided
    last_report: float = field(init=False)
    last_eval: float = field(init=False)
    last_sample: float = field(init=False)
    last_save: float = field(init=False)
    last_flow: float = field(init=False)
    flow_gap: float = 0.0
    lr: float = 0.0
    loss_sum: float = 0.0
    loss_n: int = 0
    bad_streak: int = 0
    rollbacks: int = 0
    reason: str = "stopped"
    # this run's best evaluation: its loss and step, what to go back to, and the
    # evaluations since then that were no better (patience counts these)
    best_val: float | None = None
    best_step: int = 0
    best: tuple | None = None
    stale: int = 0
    evaluated_step: int = -1  # the step of the last evaluation

    def __post_init__(self) -> None:
        self.last_report = self.last_eval = self.last_sample = self.start
        self.last_save = self.last_flow = self.start
        self.flow_gap = self.flow_every

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def rate(self) -> float:
        dt = self.elapsed()
        return (self.state.chars_seen - self.chars_at_start) / dt if dt > 0 else 0.0

    def epoch_fraction(self) -> float:
        return self.state.epoch + self.state.chunk / self.n_chunks


class Trainer:
    def __init__(self, model: Model, corpus_data: np.ndarray, config: TrainConfig, *,
                 corpus_info: dict | None = None, state: TrainState | None = None,
                 optim_tensors: dict[str, torch.Tensor] | None = None,
                 optim_meta: dict | None = None):
        self.model = model
        self.spec: ModelSpec = model.spec
        self.config = config.validate(self.spec.impl)
        self.corpus_info = corpus_info or {}
        self.state = state or TrainState()
        cut = split_at(len(corpus_data), config.train_fraction)
        train, self.val_data = corpus_data[:cut], corpus_data[cut:]
        self.world = current_world()
        self.optimizer_name = config.optimizer or default_optimizer(self.spec.impl)
        self.base_lr = config.lr if config.lr is not None else default_lr(self.optimizer_name)
        self.batcher = StreamBatcher(train, config.batch, config.seq, rank=self.world.rank,
                                     world=self.world.size)
        if len(self.val_data) < 2:
            raise ConfigError("the validation split is empty; the corpus is too small")
        self.backend = backend_for(model, self.config, self.optimizer_name, self.base_lr,
                                   self.world)
        if optim_tensors:
            self.load_optimizer_state(optim_tensors, optim_meta or {})
        self._pause = threading.Event()
        self._held = threading.Event()  # set while the loop waits in a pause
        self._stop = threading.Event()
        self._final_eval = True
        self._device_lock = threading.Lock()
        self._device_request: str | None = None
        self._last_good = self.backend.snapshot()
        # Elastic runs (engine/training/elastic.py): the run an attempt belongs to, and
        # where that run began (step, seconds, epoch position), so budgets and the schedule
        # span restarts. Without a given origin, each `run` begins its own.
        self.run_id: str | None = None
        self.origin: tuple[int, float, float] | None = None
        self._run_origin: tuple[int, float, float] | None = None
        # evaluation, sampling and saving use this average when it is on (config.ema)
        self.average = WeightAverage(model, config.ema) if config.ema else None

    @contextlib.contextmanager
    def _averaged(self) -> Iterator[None]:
        """The weights to evaluate, sample and save in the model for the duration: the
        schedule-free average and/or the weight average (config.ema), when in use."""
        with self.backend.reading_weights():
            with self.average.swapped_in(self.model) if self.average else \
                    contextlib.nullcontext():
                yield

    # --- control from other threads -------------------------------------------------
    def pause(self) -> None:
        self._pause.set()

    def resume(self) -> None:
        self._pause.clear()

    def stop(self, *, final_eval: bool = True) -> None:
        """Stop at the next chunk boundary; `final_eval=False` skips the closing evaluation
        (quitting the app should not wait for a pass over the whole validation split)."""
        self._final_eval = final_eval
        self._stop.set()
        self._pause.clear()

    @property
    def paused(self) -> bool:
        return self._pause.is_set()

    @property
    def held(self) -> bool:
        """The loop has reached the pause and waits there: no step runs until `resume`."""
        return self._held.is_set()

    def request_device(self, device: str) -> None:
        """Move training to `device` ('cpu', 'cuda', 'mps') at the next chunk boundary."""
        with self._device_lock:
            self._device_request = device

    def _take_device_request(self) -> str | None:
        """The pending request, cleared in the same step, so one made meanwhile is kept."""
        with self._device_lock:
            request, self._device_request = self._device_request, None
        return request

    # --- what the backend decides ------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.backend.device

    @property
    def precision(self) -> str:
        return self.backend.precision

    def optimizer_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Optimizer state as flat tensors plus JSON metadata, for the model file."""
        return self.backend.optimizer_state()

    def load_optimizer_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore optimizer state saved by `optimizer_state`; mismatches raise CharRNNError."""
        self.backend.load_optimizer_state(tensors, meta)

    def checkpoint(self) -> Checkpoint:
        optim_tensors, optim_meta = self.optimizer_state()
        cfg = asdict(self.config) | {"optimizer": self.optimizer_name, "lr": self.base_lr,
                                     "world_size": self.world.size}
        if self._run_origin is not None:
            cfg["run_origin"] = list(self._run_origin)
        if self.run_id is not None:
            cfg["run_id"] = self.run_id
        with self.backend.reading_weights():
            tensors = self.average.tensors() if self.average else tensors_of(self.model)
        return Checkpoint(self.spec, tensors, optim_tensors, optim_meta,
                          copy.deepcopy(self.state), cfg, dict(self.corpus_info))

    # --- evaluation --------------------------------------------------------------------
    def evaluate(self) -> float:
        """Mean cross-entropy (nats/char) over the whole validation split, in fp32."""
        with self._averaged():
            return mean_cross_entropy(self.model, self.val_data, streams=self.config.eval_batch,
                                      seq=self.config.eval_seq, device=self.device)

    # --- the loop ---------------------------------------------------------------------
    def _progress(self, run: _Run) -> float:
        """How far through its budget the run is, 0 to 1 (0 throughout an open-ended run).

        The schedule spans the model's whole training: a run that continues a model
        trained for T with a budget B is at T / (T + B) when it starts, as a single run of
        T + B would be at that point, not at 0 (back to the peak rate) nor at 1 (stalled
        at the floor). A fresh run, or a restart of one, starts at 0.
        """
        cfg, st = self.config, self.state
        step0, seconds0, fraction0 = run.origin
        if cfg.time_budget:
            return min(1.0, st.seconds / (seconds0 + cfg.time_budget))
        if cfg.epochs:
            return min(1.0, run.epoch_fraction() / (fraction0 + cfg.epochs))
        if cfg.max_steps:
            return min(1.0, st.step / (step0 + cfg.max_steps))
        return 0.0

    def _eta(self, run: _Run, trained: float) -> float | None:
        """Seconds left, measured after the step just taken. A time budget knows its end;
        epochs and steps extrapolate, but not from the first second of warm-up."""
        cfg, st = self.config, self.state
        step0, _, fraction0 = run.origin
        if cfg.time_budget:
            return max(0.0, cfg.time_budget - trained)
        if cfg.epochs:
            done = (run.epoch_fraction() - fraction0) / cfg.epochs
        elif cfg.max_steps:
            done = (st.step - step0) / cfg.max_steps
        else:
            return None
        if done <= 0 or trained < 1.0:
            return None
        return trained * (1 - min(done, 1.0)) / min(done, 1.0)

    def _lr(self, progress: float) -> float:
        scale = 1.0
        if self.config.schedule == "cosine":
            floor = self.config.min_lr_ratio
            scale = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        elif self.config.schedule == "rsqrt":  # anytime: no end to decay towards
            scale = 1 / math.sqrt(1 + self.state.step / self.config.rsqrt_steps)
        if self.config.warmup_steps:
            scale *= min(1.0, (self.state.step + 1) / self.config.warmup_steps)
        return self.base_lr * self.state.lr_scale * scale

    def run(self, on_event: Callable[[Event], None] | None = None,
            saver: Saver | None = None, threads: ThreadTuner | None = None) -> Finished:
        """Train until the budget, epochs or steps run out, or `stop()` is called.

        Under torchrun every rank calls this; only rank 0 reports, evaluates and saves.
        `threads`, when given, times each step to keep the fastest thread count.
        """
        run = self._begin(on_event, saver, threads)
        while True:
            self._hold_while_paused(run)
            self._switch_device_if_asked(run)
            self._next_epoch_if_due(run)
            reason, eval_due = self._reason_to_stop(run)
            if reason:
                run.reason = reason
                break
            if eval_due:
                self._evaluate(run)
                if self._out_of_patience(run):
                    run.reason = "patience"
                    break
            self._sample_if_due(run)
            self._autosave_if_due(run)
            self._gradient_flow_if_due(run)
            if not self._train_step(run):
                break
            self._report_if_due(run)
        return self._end(run)

    def _begin(self, on_event: Callable[[Event], None] | None, saver: Saver | None,
               threads: ThreadTuner | None) -> _Run:
        """This attempt's clock and counters; budgets count from the run's origin."""
        main = self.world.is_main
        st = self.state
        self.backend.train_mode()
        n_chunks = self.batcher.chunks_per_epoch
        self._run_origin = self.origin or (st.step, st.seconds, st.epoch + st.chunk / n_chunks)
        run = _Run(emit=(on_event or _ignore) if main else _ignore,
                   saver=saver if main else None, threads=threads, main=main,
                   n_chunks=n_chunks, origin=self._run_origin, began_seconds=st.seconds,
                   began_step=st.step, chars_at_start=st.chars_seen,
                   flow_every=self.config.gradflow_every, state=st,
                   hidden=self.model.init_state(self.batcher.batch_size, self.device))
        if self.config.precision == "bf16" and self.precision != "bf16":
            run.emit(Notice("bf16 was asked for, but this CPU has no native bf16: training "
                            "in fp32", "warning"))
        return run

    def _hold_while_paused(self, run: _Run) -> None:
        if not self._pause.is_set() or self._stop.is_set():
            return
        paused_at = time.perf_counter()
        self._held.set()
        while self._pause.is_set() and not self._stop.is_set():
            time.sleep(0.05)
        self._held.clear()
        run.start += time.perf_counter() - paused_at  # paused time is not training

    def _switch_device_if_asked(self, run: _Run) -> None:
        if (request := self._take_device_request()) is None:
            return
        try:
            target = resolve_device(request)
        except ValueError as e:
            run.emit(Notice(f"cannot switch device: {e}", "warning"))
            return
        run.hidden = self.backend.move(target, run.hidden, run.emit)
        if self.average:
            self.average.to(self.backend.device)

    def _next_epoch_if_due(self, run: _Run) -> None:
        """At the end of the text the streams restart from their beginnings, state reset."""
        st = self.state
        if st.chunk >= run.n_chunks:
            st.epoch += 1
            st.chunk = 0
            run.hidden = self.model.init_state(self.batcher.batch_size, self.device)

    def _reason_to_stop(self, run: _Run) -> tuple[str | None, bool]:
        """Why the run ends now (None: it goes on), and whether an evaluation is due; every
        rank agrees on both, so all of them stop, and evaluate, at the same step."""
        cfg, st = self.config, self.state
        step0, seconds0, fraction0 = run.origin
        st.seconds = run.began_seconds + run.elapsed()
        run.now = time.perf_counter()
        over_budget = (run.main and cfg.time_budget is not None
                       and st.seconds - seconds0 >= cfg.time_budget)
        eval_due = run.main and st.step > run.began_step and \
            run.now - run.last_eval >= cfg.eval_every
        stop, over_budget, eval_due = agree(
            self.world, [self._stop.is_set(), over_budget, eval_due], self.device)
        if stop:
            return "stopped", eval_due
        if over_budget:
            return "budget", eval_due
        if cfg.epochs is not None and run.epoch_fraction() - fraction0 >= cfg.epochs:
            return "epochs", eval_due
        if cfg.max_steps is not None and st.step - step0 >= cfg.max_steps:
            return "steps", eval_due
        return None, eval_due

    def _out_of_patience(self, run: _Run) -> bool:
        patience = self.config.patience_in_use
        return bool(patience) and run.stale >= patience

    def _evaluate(self, run: _Run) -> None:
        """Score the validation split; a new best is saved as the model's best file."""
        st = self.state
        val = share_from_main(self.world, self.evaluate() if run.main else 0.0, self.device)
        run.last_eval, run.evaluated_step = time.perf_counter(), st.step
        if not math.isfinite(val):  # not recorded: NaN is not a loss, nor valid JSON
            run.emit(Notice(f"step {st.step}: validation loss is not finite", "warning"))
            return
        self._last_good = self.backend.snapshot()
        # every rank has `val`, so every rank keeps the same best and stops together
        if run.best_val is None or val < run.best_val:
            run.best_val, run.best_step, run.stale = val, st.step, 0
            run.best = (self._last_good, self.average.snapshot() if self.average else None)
        else:
            run.stale += 1
        if not run.main:
            return
        st.last_val = val
        best = st.best_val is None or val < st.best_val
        if best:
            st.best_val = val
        st.val_history.append([st.step, val])
        _thin(st.val_history)
        run.emit(Evaluated(step=st.step, val_loss=val, val_bpc=val / LN2, best=best))
        if best and run.saver and st.step > run.began_step:
            self._save(run.saver, "best", run.emit)

    def _sample_if_due(self, run: _Run) -> None:
        cfg = self.config
        if run.main and cfg.sample_every and run.now - run.last_sample >= cfg.sample_every:
            run.emit(Sampled(step=self.state.step, text=self.sample("\n", cfg.sample_length)))
            run.last_sample = time.perf_counter()

    def _autosave_if_due(self, run: _Run) -> None:
        every = self.config.autosave_every
        if run.saver and every and run.now - run.last_save >= every:
            self._save(run.saver, "last", run.emit)
            run.last_save = time.perf_counter()

    def _gradient_flow_if_due(self, run: _Run) -> None:
        if not (run.main and run.flow_every and run.now - run.last_flow >= run.flow_gap):
            return
        chunk, flow_start = self.batcher.chunk(self.state.chunk), time.perf_counter()
        try:
            norms = gradient_flow(self.model, chunk.x, chunk.y)
            run.emit(GradientFlow(self.state.step, tuple(map(float, norms))))
        except Exception as e:  # a diagnostic must never end training
            run.flow_every = 0.0
            run.emit(Notice(f"gradient flow is off for this run: {e}", "warning"))
        run.last_flow = time.perf_counter()
        # a slow pass (big model, busy machine) spaces the next one out, so the
        # diagnostic never takes more than FLOW_SHARE of the time
        run.flow_gap = max(run.flow_every, (run.last_flow - flow_start) / FLOW_SHARE)

    def _train_step(self, run: _Run) -> bool:
        """One optimizer step. A non-finite step is skipped; a streak of them rolls back to
        the last good weights at half the rate. False: training gave up ("diverged")."""
        cfg, st = self.config, self.state
        run.lr = self._lr(self._progress(run))
        seed_device(self.device, cfg.seed + st.step)  # dropout masks are a function of the step,
        step_start = time.perf_counter()  # so a resumed run draws the ones it would have
        loss, run.hidden, finite = self.backend.step(self.batcher.chunk(st.chunk), run.hidden,
                                                     run.lr)
        if run.threads and (change := run.threads.step_done(time.perf_counter() - step_start)):
            run.emit(Notice(change))
        st.chunk += 1
        if finite:
            if self.average:
                self.average.update(self.model)
            st.step += 1
            st.chars_seen += cfg.batch * cfg.seq  # every rank's streams together
            run.loss_sum += loss
            run.loss_n += 1
            run.bad_streak = 0
            return True
        run.bad_streak += 1
        run.emit(Notice(f"step {st.step}: non-finite loss or gradient; step skipped",
                        "warning"))
        if run.bad_streak < BAD_STEPS_BEFORE_ROLLBACK:
            return True
        self.backend.restore(self._last_good)
        if run.rollbacks >= MAX_ROLLBACKS:
            run.emit(Notice(f"the loss is still not finite after {run.rollbacks} rollbacks; "
                            "training stops with the last good weights", "error"))
            run.reason, self._final_eval = "diverged", False
            return False
        run.rollbacks += 1
        st.lr_scale *= 0.5
        run.bad_streak = 0
        run.hidden = self.model.init_state(self.batcher.batch_size, self.device)
        run.emit(Notice(f"rolled back to the last good weights and halved the learning "
                        f"rate to {self._lr(self._progress(run)):.2e}", "warning"))
        return True

    def _report_if_due(self, run: _Run) -> None:
        """The mean training loss since the last report, with speed and time left."""
        st = self.state
        now = time.perf_counter()
        if not run.loss_n or now - run.last_report < self.config.report_every:
            return
        mean = run.loss_sum / run.loss_n
        st.history.append([st.step, mean])
        _thin(st.history)
        elapsed = run.began_seconds + now - run.start
        trained = elapsed - run.origin[1]  # the whole run's, across restarts
        run.emit(Progress(step=st.step, epoch=st.epoch, chunk=st.chunk, chunks=run.n_chunks,
                          train_loss=mean, lr=run.lr, chars_per_s=run.rate(),
                          elapsed=elapsed, eta=self._eta(run, trained),
                          device=self.device.type, precision=self.precision))
        run.loss_sum, run.loss_n, run.last_report = 0.0, 0, now

    def _end(self, run: _Run) -> Finished:
        """A last evaluation (unless quitting), the run's best weights back if the last
        were worse, a save, the result."""
        st = self.state
        st.seconds = run.began_seconds + run.elapsed()
        chars_per_s = run.rate()
        if ((st.step > run.began_step or st.last_val is None) and self._final_eval
                and run.evaluated_step != st.step):
            self._evaluate(run)
        if run.evaluated_step == st.step and run.best is not None and run.best_step < st.step:
            self._go_back_to_best(run)
        if run.saver:
            self._save(run.saver, "last", run.emit)
        done = Finished(reason=run.reason, step=st.step, val_loss=st.last_val,
                        val_bpc=None if st.last_val is None else st.last_val / LN2,
                        chars_per_s=chars_per_s, seconds=st.seconds - run.began_seconds,
                        why=why_stopped(run.reason, self.config.patience_in_use))
        run.emit(done)
        return done

    def _go_back_to_best(self, run: _Run) -> None:
        """The run ends holding its best evaluated weights (and their optimizer state), so
        what is saved, played and continued is the best model, not the last one. The
        counters go on: the text already read is not read again."""
        weights, average = run.best
        self.backend.restore(weights)
        if self.average and average is not None:
            self.average.restore(average)
            self.average.to(self.backend.device)
        last, self.state.last_val = self.state.last_val, run.best_val
        run.emit(Notice(f"kept the best weights, from step {run.best_step:,} (validation "
                        f"{run.best_val:.4f}; the last were {last:.4f})"))

    def _save(self, saver: Saver, tag: str, emit: Callable[[Event], None]) -> None:
        try:
            message = saver(self.checkpoint(), tag)
        except Exception as e:  # a failed save must not end training
            emit(Notice(f"could not save ({tag}): {e}", "error"))
            return
        if message:
            emit(Notice(message))

    def sample(self, seed_text: str, length: int, temperature: float = 0.8) -> str:
        """A short sample from the current weights, leaving training mode as it was."""
        try:
            with self._averaged():  # first: the sampler lays out the weights it is given
                sampler = Sampler(self.model, self.spec.vocab, rng_seed=self.state.step)
                sampler.params.temperature = temperature
                return sampler.generate(seed_text, length)
        finally:
            self.backend.train_mode()
