"""The thread policy: how many intra-op threads torch uses for each job, chosen from the
cores that are actually free.

Measured with bench/contention.py on 2 cores: with one busy program beside it, training on
two OpenMP threads ran ~50x slower than on one, because each parallel region waits for a
sibling thread the OS has descheduled. Letting idle threads sleep (OMP_WAIT_POLICY=PASSIVE)
fixes that but halves quiet-machine speed, and no fixed count wins everywhere. So the
count is measured, not guessed:

- training starts on one thread, tries more only while a core sits idle, keeps what
  trains fastest (`ThreadTuner`, timing real steps), and drops back to one thread as soon
  as steps run much slower, which is what another program starting looks like;
- evaluation uses the cores idle when it starts;
- generation, one character at a time, gains nothing from a second thread: one.

`--threads N`, $CHARRNN_TUI_THREADS or $OMP_NUM_THREADS fixes the count for users who
know better.

Each OS thread that ran torch on more than one thread keeps its OpenMP team while it lives.
Once libgomp's teams together outnumber the cores, every team sleeps on a futex between
parallel regions instead of spinning: ~1,200 sleeps a training step, measured, and a run
built on the main thread but trained on another ran 20-40% slower. So a trainer is built
on the thread that trains it (the app's training worker, bench/quality.py's runs), and a
thread that lives on beside training computes on one thread.

Where idle time cannot be read (no /proc/stat: macOS, Windows), every core but one counts
as idle: evaluation leaves one core to the app and other programs, and the tuner still
tries all of them, keeping more than one thread only while timing shows it trains faster.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Literal

from charrnn_tui.engine.errors import ConfigError

ENV_THREADS = "CHARRNN_TUI_THREADS"
PROC_STAT = "/proc/stat"  # Linux's counters of time each core spent idle
Role = Literal["generate", "eval"]  # training has training_tuner


def cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class IdleMeter:
    """How many cores sat idle since the last reading, from /proc/stat (Linux).

    Elsewhere `idle()` returns None and callers apply the policy stated at the top.
    """

    def __init__(self, path: str | None = None, clock: Callable[[], float] = time.monotonic):
        self.path = path or PROC_STAT
        self._clock = clock
        self._hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._read()

    def _read(self) -> tuple[float, float] | None:
        try:
            with open(self.path, encoding="ascii") as f:
                fields = f.readline(4096).split()
        except (OSError, ValueError):  # missing, or not text
            return None
        if len(fields) < 6 or fields[0] != "cpu" or not (fields[4] + fields[5]).isdigit():
            return None
        return self._clock(), (int(fields[4]) + int(fields[5])) / self._hz  # idle + iowait

    def idle(self) -> float | None:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None or now[0] - last[0] <= 0:
            return None
        return max(0.0, (now[1] - last[1]) / (now[0] - last[0]))


def free_cores(window: float = 0.2) -> int:
    """Cores idle over a short look now: at least one, at most this process's cores; all
    but one where idle time cannot be read."""
    meter = IdleMeter()
    time.sleep(window)
    idle = meter.idle()
    return max(1, min(cores(), cores() - 1 if idle is None else round(idle)))


def requested_threads(requested: int | None = None) -> int | None:
    """A fixed count: `--threads`, else $CHARRNN_TUI_THREADS, else a plain $OMP_NUM_THREADS;
    None lets the policy choose."""
    if requested is not None:
        if requested < 1:
            raise ConfigError(f"threads must be at least 1, not {requested}")
        return requested
    raw = os.environ.get(ENV_THREADS, "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(f"${ENV_THREADS} must be a whole number ≥ 1, not {raw!r}")
        return int(raw)
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(omp) if omp.isdigit() and int(omp) > 0 else None  # torch reads other forms


def set_threads(n: int) -> None:
    """Set the calling thread's intra-op thread count, and only its own.

    torch keeps the count per OS thread but initialises it lazily, at the thread's first
    parallel operation, from the last count set anywhere in the process. Asking for the
    count first makes that happen now, so another thread's later choice can't undo this.
    Without torch imported there is nothing to set: sampling on a CPU runs in numpy, and
    importing torch only to set its count would cost a second.
    """
    if "torch" not in sys.modules:
        return
    import torch  # waits for an import under way in another thread to finish

    torch.get_num_threads()
    torch.set_num_threads(n)


def set_blas_threads(n: int) -> bool:
    """Set numpy's OpenBLAS thread count; False where numpy has no OpenBLAS that allows it
    (then nothing changes).

    The count is the whole process's, not the calling thread's: OpenBLAS built with
    pthreads, as numpy's wheels ship it, has one count, and its
    `openblas_set_num_threads_local` sets that one (only an OpenMP build keeps a count per
    thread). So a generation thread asking for one thread leaves every other numpy product
    in the process on one thread too; the numpy model's training sets its own count back
    before each step (`keep_blas_threads`).

    The fast generation step runs in numpy. OpenBLAS's own pool would spread each small
    product over every core, and on a busy machine that is as slow as OpenMP above (an
    8×512×1024 product measured 27 ms instead of 0.6 ms on 2 shared cores).
    """
    setter, _ = _openblas()
    if setter:
        setter(n)
    return bool(setter)


def blas_threads() -> int | None:
    """numpy's OpenBLAS thread count now (the process's); None where it cannot be read."""
    _, getter = _openblas()
    return getter() if getter else None


def keep_blas_threads(n: int) -> None:
    """Make the process's BLAS count `n` again if another thread changed it (a ctypes call
    when it did not: cheap enough to run before every training step)."""
    if blas_threads() != n:
        set_blas_threads(n)


def _openblas() -> tuple:
    """numpy's OpenBLAS (setter, getter), looked up once; False for each it lacks."""
    global _blas
    if _blas is None:
        import ctypes
        import glob

        import numpy as np

        _blas = (False, False)
        libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        for path in glob.glob(os.path.join(libs, "*openblas*")):
            try:
                lib = ctypes.CDLL(path)
                setter = lib.openblas_set_num_threads_local
            except (OSError, AttributeError):
                continue
            getter = next((getattr(lib, name) for name in _BLAS_GETTERS
                           if hasattr(lib, name)), False)
            _blas = (setter, getter)
            break
    return _blas


_blas = None  # OpenBLAS's (setter, getter), once looked up
# the getter's name in each OpenBLAS numpy has shipped: plain, 64-bit, scipy-openblas
_BLAS_GETTERS = ("openblas_get_num_threads", "openblas_get_num_threads64_",
                 "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads")


def use_threads(role: Role, requested: int | None = None) -> int:
    """Set this thread's count for `role` (each worker thread calls it when it starts),
    for torch and for numpy's BLAS (the process's; see `set_blas_threads`)."""
    n = requested_threads(requested)
    if n is None:
        n = 1 if role == "generate" else free_cores()
    set_threads(n)
    set_blas_threads(n)
    return n


def training_tuner(requested: int | None = None, *, distributed: bool = False
                   ) -> ThreadTuner | None:
    """Set this thread up to train; the tuner to pass to `Trainer.run`, or None if fixed.

    A fixed count is the user's word. Each process of a distributed run keeps one thread
    (or $OMP_NUM_THREADS): the ranks already share the cores, and step in lockstep.
    """
    fixed = requested_threads(requested)
    if fixed is None and distributed:
        fixed = 1
    if fixed is not None:
        set_threads(fixed)
        return None
    if cores() == 1:
        set_threads(1)
        return None
    return ThreadTuner(cores(), set_threads, IdleMeter().idle)


class ThreadTuner:
    """Chooses the thread count that trains fastest now, by timing real steps.

    Starts on one thread, which never collapses. Whenever `recheck` seconds have passed
    and a core has been idle meanwhile, it times `probe_steps` steps on more threads and
    keeps them only if they were faster. On more threads, one step `COLLAPSE`× slower
    than when they were chosen, or two in a row `SLOW`× slower, mean a program took a
    core: it goes back to one thread at once, since spinning threads can make each further
    step tens of times slower. A single step only `SLOW`× slower is the machine's jitter
    (a 50 ms step often is, on a VM), and falling back on it cost a run most of its time
    on one thread.
    """

    SLOW = 1.5
    COLLAPSE = 3.0

    def __init__(self, most: int, set_threads: Callable[[int], None],
                 idle: Callable[[], float | None], *, probe_steps: int = 3,
                 recheck: float = 15.0, clock: Callable[[], float] = time.monotonic):
        self.most = most
        self._set = set_threads
        self._idle = idle
        self.probe_steps = probe_steps
        self.recheck = recheck
        self._clock = clock
        self.threads = 1
        self.timings: dict[int, float] = {}  # median seconds per step at each count
        self._window: list[float] = []
        self._slow_before = False  # the last step on more threads was SLOW× slower
        self._settle = True  # the next step pays for a change: not representative
        self._probing = False
        self._checked_at = -float("inf")
        self._set(1)

    def step_done(self, seconds: float) -> str | None:
        """Record one training step's duration; returns a notice when the count changes."""
        if self._settle:
            self._settle = False
            return None
        if self.threads > 1 and 1 in self.timings:
            slow = seconds / self.timings.get(self.threads, self.timings[1])
            if slow > self.COLLAPSE or (slow > self.SLOW and self._slow_before):
                return self._fall_back(seconds)
            self._slow_before = slow > self.SLOW
        self._window.append(seconds)
        if len(self._window) < self.probe_steps:
            return None
        self.timings[self.threads] = statistics.median(self._window)
        self._window = []
        if self._probing:
            self._probing = False
            best = min(self.timings, key=self.timings.get)
            self._checked_at = self._clock()
            if best != self.threads:
                self._switch(best)
                return None  # back where it was: nothing new to say
            return f"training on {best} threads ({self._speeds()} per step)"
        if self.threads == 1 and self._clock() - self._checked_at >= self.recheck:
            self._checked_at = self._clock()
            idle = self._idle()
            more = self.most if idle is None else min(self.most, 1 + round(idle))
            if more > 1:
                self._probing = True
                self._switch(more)
        return None

    def _fall_back(self, seconds: float) -> str | None:
        """Back to one thread after a slow step; says why unless it was only a trial."""
        was, trial = self.threads, self._probing
        slow = seconds / self.timings.get(was, self.timings[1])
        self.timings.pop(was, None)
        self._window, self._probing = [], False
        self._checked_at = self._clock()
        self._switch(1)
        if trial:
            return None
        return (f"training on 1 thread: a step on {was} ran {slow:.1f}× slower than before; "
                "another program is using the cores")

    def _switch(self, n: int) -> None:
        if n != self.threads:
            self.threads = n
            self._set(n)
            self._settle = True
            self._slow_before = False

    def _speeds(self) -> str:
        return ", ".join(f"{n}: {t * 1e3:.0f} ms" for n, t in sorted(self.timings.items()))
