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
from collections.abc import Callable
from dataclasses import asdict

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
)
from charrnn_tui.engine.training.optim import default_lr, default_optimizer
from charrnn_tui.engine.training.precision import resolve_device

BAD_STEPS_BEFORE_ROLLBACK = 3
MAX_ROLLBACKS = 3  # then training ends ("diverged"): halving the rate again would not help
HISTORY_LIMIT = 4000  # loss points kept in the model file; older ones are thinned
FLOW_SHARE = 0.04  # most of the training time the gradient-flow diagnostic may take


Saver = Callable[[Checkpoint, str], str | None]  # (checkpoint, "last" | "best") -> message


def _thin(points: list[list[float]]) -> None:
    if len(points) > HISTORY_LIMIT:
        del points[1::2]


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

    def _averaged(self):
        """The averaged weights swapped into the model for the duration, if averaging."""
        return self.average.swapped_in(self.model) if self.average else contextlib.nullcontext()

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
    def _progress(self, start_seconds: float, start_fraction: float, start_step: int,
                  epoch_fraction: float) -> float:
        cfg = self.config
        if cfg.time_budget:
            return min(1.0, (self.state.seconds - start_seconds) / cfg.time_budget)
        if cfg.epochs:
            return min(1.0, (epoch_fraction - start_fraction) / cfg.epochs)
        if cfg.max_steps:
            return min(1.0, (self.state.step - start_step) / cfg.max_steps)
        return 0.0

    def _eta(self, start_seconds: float, start_fraction: float, start_step: int,
             trained: float, n_chunks: int) -> float | None:
        """Seconds left, measured after the step just taken. A time budget knows its end;
        epochs and steps extrapolate, but not from the first second of warm-up."""
        st, cfg = self.state, self.config
        if cfg.time_budget:
            return max(0.0, cfg.time_budget - trained)
        done = self._progress(start_seconds, start_fraction, start_step,
                              st.epoch + st.chunk / n_chunks)
        if done <= 0 or trained < 1.0:
            return None
        return trained * (1 - done) / done

    def _lr(self, progress: float) -> float:
        scale = 1.0
        if self.config.schedule == "cosine":
            floor = self.config.min_lr_ratio
            scale = floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        if self.config.warmup_steps:
            scale *= min(1.0, (self.state.step + 1) / self.config.warmup_steps)
        return self.base_lr * self.state.lr_scale * scale

    def _move(self, device: str, emit: Callable[[Event], None], hidden):
        try:
            target = resolve_device(device)
        except ValueError as e:
            emit(Notice(f"cannot switch device: {e}", "warning"))
            return hidden
        hidden = self.backend.move(target, hidden, emit)
        if self.average:
            self.average.to(self.backend.device)
        return hidden

    def run(self, on_event: Callable[[Event], None] | None = None,
            saver: Saver | None = None, threads: ThreadTuner | None = None) -> Finished:
        """Train until the budget, epochs or steps run out, or `stop()` is called.

        Under torchrun every rank calls this; only rank 0 reports, evaluates and saves.
        `threads`, when given, times each step to keep the fastest thread count.
        """
        main = self.world.is_main
        emit = (on_event or (lambda e: None)) if main else (lambda e: None)
        saver = saver if main else None
        cfg, st = self.config, self.state
        self.backend.train_mode()
        run_start = time.perf_counter()
        # this attempt's clock and counters; budgets count from the run's origin
        began_seconds, began_step, chars_at_start = st.seconds, st.step, st.chars_seen
        n_chunks = self.batcher.chunks_per_epoch
        self._run_origin = self.origin or (st.step, st.seconds, st.epoch + st.chunk / n_chunks)
        start_step, start_seconds, start_fraction = self._run_origin
        last_report = last_eval = last_sample = last_save = last_flow = run_start
        flow_every = flow_gap = cfg.gradflow_every
        loss_sum, loss_n, bad_streak, rollbacks = 0.0, 0, 0, 0
        chunk_chars = cfg.batch * cfg.seq  # every rank's streams together
        hidden = self.model.init_state(self.batcher.batch_size, self.device)
        reason = "stopped"
        if cfg.precision == "bf16" and self.precision != "bf16":
            emit(Notice("bf16 was asked for, but this CPU has no native bf16: training in fp32",
                        "warning"))

        def elapsed_now() -> float:
            return time.perf_counter() - run_start

        def rate() -> float:
            dt = elapsed_now()
            return (st.chars_seen - chars_at_start) / dt if dt > 0 else 0.0

        def do_eval() -> None:
            val = share_from_main(self.world, self.evaluate() if main else 0.0, self.device)
            if not math.isfinite(val):  # not recorded: NaN is not a loss, nor valid JSON
                emit(Notice(f"step {st.step}: validation loss is not finite", "warning"))
                return
            self._last_good = self.backend.snapshot()
            if not main:
                return
            st.last_val = val
            best = st.best_val is None or val < st.best_val
            if best:
                st.best_val = val
            st.val_history.append([st.step, val])
            _thin(st.val_history)
            emit(Evaluated(step=st.step, val_loss=val, val_bpc=val / LN2, best=best))
            if best and saver and st.step > began_step:
                self._save(saver, "best", emit)

        while True:
            # --- steering from other threads: pause, device switch ---
            if self._pause.is_set() and not self._stop.is_set():
                paused_at = time.perf_counter()
                self._held.set()
                while self._pause.is_set() and not self._stop.is_set():
                    time.sleep(0.05)
                self._held.clear()
                run_start += time.perf_counter() - paused_at  # paused time is not training
            if request := self._take_device_request():
                hidden = self._move(request, emit, hidden)
            # --- epoch boundary, then the reasons to stop ---
            if st.chunk >= n_chunks:  # new epoch: streams restart, state resets
                st.epoch += 1
                st.chunk = 0
                hidden = self.model.init_state(self.batcher.batch_size, self.device)
            epoch_fraction = st.epoch + st.chunk / n_chunks
            st.seconds = began_seconds + elapsed_now()
            now = time.perf_counter()
            over_budget = (main and cfg.time_budget is not None
                           and st.seconds - start_seconds >= cfg.time_budget)
            eval_due = main and st.step > began_step and now - last_eval >= cfg.eval_every
            stop, over_budget, eval_due = agree(
                self.world, [self._stop.is_set(), over_budget, eval_due], self.device)
            if stop:
                break
            if over_budget:
                reason = "budget"
                break
            if cfg.epochs is not None and epoch_fraction - start_fraction >= cfg.epochs:
                reason = "epochs"
                break
            if cfg.max_steps is not None and st.step - start_step >= cfg.max_steps:
                reason = "steps"
                break
            # --- periodic work: evaluate, sample, autosave ---
            if eval_due:
                do_eval()
                last_eval = time.perf_counter()
            if main and cfg.sample_every and now - last_sample >= cfg.sample_every:
                emit(Sampled(step=st.step, text=self.sample("\n", cfg.sample_length)))
                last_sample = time.perf_counter()
            if saver and cfg.autosave_every and now - last_save >= cfg.autosave_every:
                self._save(saver, "last", emit)
                last_save = time.perf_counter()
            if main and flow_every and now - last_flow >= flow_gap:
                chunk, flow_start = self.batcher.chunk(st.chunk), time.perf_counter()
                try:
                    norms = gradient_flow(self.model, chunk.x, chunk.y)
                    emit(GradientFlow(st.step, tuple(map(float, norms))))
                except Exception as e:  # a diagnostic must never end training
                    flow_every = 0.0
                    emit(Notice(f"gradient flow is off for this run: {e}", "warning"))
                last_flow = time.perf_counter()
                # a slow pass (big model, busy machine) spaces the next one out, so the
                # diagnostic never takes more than FLOW_SHARE of the time
                flow_gap = max(flow_every, (last_flow - flow_start) / FLOW_SHARE)

            # --- one optimizer step; non-finite steps are skipped, then rolled back ---
            progress = self._progress(start_seconds, start_fraction, start_step, epoch_fraction)
            lr = self._lr(progress)
            torch.manual_seed(cfg.seed + st.step)  # dropout masks are a function of the step,
            step_start = time.perf_counter()  # so a resumed run draws the ones it would have
            loss, hidden, finite = self.backend.step(self.batcher.chunk(st.chunk), hidden, lr)
            if threads and (change := threads.step_done(time.perf_counter() - step_start)):
                emit(Notice(change))
            st.chunk += 1
            if finite:
                if self.average:
                    self.average.update(self.model)
                st.step += 1
                st.chars_seen += chunk_chars
                loss_sum += loss
                loss_n += 1
                bad_streak = 0
            else:
                bad_streak += 1
                emit(Notice(f"step {st.step}: non-finite loss or gradient; step skipped",
                            "warning"))
                if bad_streak >= BAD_STEPS_BEFORE_ROLLBACK and rollbacks >= MAX_ROLLBACKS:
                    self.backend.restore(self._last_good)
                    emit(Notice(f"the loss is still not finite after {rollbacks} rollbacks; "
                                "training stops with the last good weights", "error"))
                    reason, self._final_eval = "diverged", False
                    break
                if bad_streak >= BAD_STEPS_BEFORE_ROLLBACK:
                    rollbacks += 1
                    self.backend.restore(self._last_good)
                    st.lr_scale *= 0.5
                    bad_streak = 0
                    hidden = self.model.init_state(self.batcher.batch_size, self.device)
                    emit(Notice(f"rolled back to the last good weights and halved the "
                                f"learning rate to {self._lr(progress):.2e}", "warning"))

            # --- report ---
            now = time.perf_counter()
            if loss_n and now - last_report >= cfg.report_every:
                mean = loss_sum / loss_n
                st.history.append([st.step, mean])
                _thin(st.history)
                trained = began_seconds + now - run_start - start_seconds  # the whole run's
                eta = self._eta(start_seconds, start_fraction, start_step, trained,
                                n_chunks)
                emit(Progress(step=st.step, epoch=st.epoch, chunk=st.chunk, chunks=n_chunks,
                              train_loss=mean, lr=lr, chars_per_s=rate(),
                              elapsed=began_seconds + now - run_start, eta=eta,
                              device=self.device.type, precision=self.precision))
                loss_sum, loss_n, last_report = 0.0, 0, now

        # --- the end: a last evaluation (unless quitting), a save, the result ---
        st.seconds = began_seconds + elapsed_now()
        chars_per_s = rate()
        if (st.step > began_step or st.last_val is None) and self._final_eval:
            do_eval()
        if saver:
            self._save(saver, "last", emit)
        done = Finished(reason=reason, step=st.step, val_loss=st.last_val,
                        val_bpc=None if st.last_val is None else st.last_val / LN2,
                        chars_per_s=chars_per_s, seconds=st.seconds - began_seconds)
        emit(done)
        return done

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
