"""The thread policy: the tuner's decisions, per-thread counts, and what each entry point sets.

Nothing here is timed: the tuner gets made-up step durations and a made-up idle meter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
import torch
from helpers import kit

from charrnn_tui.engine.generation.sampler import Sampler
from charrnn_tui.engine.models import build_model
from charrnn_tui.engine.paths import ENV_HOME
from charrnn_tui.engine.threads import (
    ENV_THREADS,
    IdleMeter,
    ThreadTuner,
    blas_threads,
    cores,
    set_blas_threads,
    set_threads,
    training_tuner,
)
from charrnn_tui.workers import run_training, stream_chars


class Fake:
    """A tuner wired to a settable clock and idle meter, recording every count it sets."""

    def __init__(self, most: int = 2, idle: float | None = 1.0, recheck: float = 10.0):
        self.now, self.idle_cores, self.counts = 0.0, idle, []
        self.tuner = ThreadTuner(most, self.counts.append, lambda: self.idle_cores,
                                 probe_steps=3, recheck=recheck, clock=lambda: self.now)

    def steps(self, seconds_at: dict[int, float], n: int) -> list[str]:
        notices = []
        for _ in range(n):
            self.now += 0.1
            notice = self.tuner.step_done(seconds_at[self.tuner.threads])
            if notice:
                notices.append(notice)
        return notices


def test_starts_on_one_thread_and_keeps_two_when_a_core_is_free_and_they_are_faster():
    f = Fake(idle=1.0)
    assert f.counts == [1]
    notices = f.steps({1: 0.10, 2: 0.06}, 10)
    assert f.tuner.threads == 2 and f.counts == [1, 2]
    assert notices == ["training on 2 threads (1: 100 ms, 2: 60 ms per step)"]


def test_a_trial_that_loses_goes_back_to_one_thread_silently():
    f = Fake(idle=1.0)
    notices = f.steps({1: 0.10, 2: 0.12}, 10)  # two threads slower, but not by 1.5x
    assert f.tuner.threads == 1 and f.counts == [1, 2, 1] and notices == []


def test_no_trial_while_no_core_is_idle():
    f = Fake(idle=0.2)  # another program holds the second core
    f.steps({1: 0.10, 2: 0.01}, 30)
    assert f.counts == [1]


def test_a_slow_step_on_two_threads_falls_back_at_once_and_says_why():
    f = Fake(idle=1.0)
    f.steps({1: 0.10, 2: 0.06}, 10)
    assert f.tuner.threads == 2
    notices = f.steps({1: 0.10, 2: 5.0}, 1)  # a busy program arrives: spinning threads stall
    assert f.tuner.threads == 1
    assert len(notices) == 1 and "another program" in notices[0] and "83.3×" in notices[0]


def test_one_step_somewhat_slower_is_jitter_but_two_in_a_row_fall_back():
    f = Fake(idle=1.0)
    f.steps({1: 0.10, 2: 0.06}, 10)
    assert f.steps({2: 0.10}, 1) == [] and f.tuner.threads == 2  # 1.7x once: jitter
    f.steps({2: 0.06}, 1)
    assert f.steps({2: 0.10}, 1) == [] and f.tuner.threads == 2  # not in a row
    notices = f.steps({2: 0.10}, 1)
    assert f.tuner.threads == 1 and "1.7×" in notices[0]


def test_a_catastrophic_trial_step_ends_the_trial_after_one_step():
    f = Fake(idle=1.0)
    f.steps({1: 0.10}, 4)  # settle + a window of three at one thread: the trial starts
    assert f.tuner.threads == 2
    notices = f.steps({2: 7.0}, 2)  # the change's settling step, then one slow step
    assert f.tuner.threads == 1 and notices == []


def test_rechecks_after_the_interval_when_the_load_goes_away():
    f = Fake(idle=0.0, recheck=10.0)
    f.steps({1: 0.10}, 20)
    assert f.tuner.threads == 1
    f.idle_cores = 1.0
    f.now += 10
    f.steps({1: 0.10, 2: 0.05}, 10)
    assert f.tuner.threads == 2


def test_many_cores_try_as_many_threads_as_are_idle_plus_one():
    f = Fake(most=8, idle=2.6)
    f.steps({1: 0.10, 4: 0.05}, 10)
    assert f.counts[:2] == [1, 4]


def test_idle_meter_reads_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    now = [0.0]
    hz = os.sysconf("SC_CLK_TCK")
    stat.write_text(f"cpu  10 0 10 {100 * hz} {5 * hz} 0 0\ncpu0 1 2 3 4 5\n")
    meter = IdleMeter(str(stat), clock=lambda: now[0])
    now[0] = 2.0
    stat.write_text(f"cpu  10 0 10 {101 * hz} {6 * hz} 0 0\n")  # 2 s of idle over 2 s
    assert meter.idle() == pytest.approx(1.0)
    assert IdleMeter(str(tmp_path / "missing")).idle() is None


def test_a_threads_count_is_its_own():
    """Another thread setting its count later must not change a running one's."""
    seen, started, other_done = {}, threading.Event(), threading.Event()

    def trainer_thread():
        set_threads(2)
        started.set()
        other_done.wait(10)
        torch.ones(64, 64).sum()
        seen["train"] = torch.get_num_threads()

    def sampler_thread():
        started.wait(10)
        set_threads(1)
        seen["sample"] = torch.get_num_threads()
        other_done.set()

    threads = [threading.Thread(target=trainer_thread), threading.Thread(target=sampler_thread)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"train": 2, "sample": 1}


def test_fixed_counts_and_distributed_ranks_get_no_tuner(monkeypatch):
    monkeypatch.delenv(ENV_THREADS, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    saved = torch.get_num_threads()
    try:
        assert training_tuner(1) is None and torch.get_num_threads() == 1
        assert training_tuner(distributed=True) is None and torch.get_num_threads() == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        assert training_tuner() is None and torch.get_num_threads() == 2
        monkeypatch.setenv(ENV_THREADS, "1")  # ours wins over OpenMP's
        assert training_tuner() is None and torch.get_num_threads() == 1
        monkeypatch.setenv(ENV_THREADS, "two")
        with pytest.raises(ValueError, match=ENV_THREADS):
            training_tuner()
    finally:
        torch.set_num_threads(saved)


def test_the_apps_sampling_thread_uses_one_thread(monkeypatch):
    monkeypatch.delenv(ENV_THREADS, raising=False)
    model = build_model(kit.spec("torch"))
    counts = []

    class Recording(Sampler):
        def next_char(self) -> str:
            counts.append(torch.get_num_threads())
            return super().next_char()

    class Sink:
        def put(self, char, stop):
            pass

    def run():
        set_threads(2)  # what the thread had before the stream began
        stream_chars(Recording(model, kit.ALPHABET), "the", 5, Sink(), threading.Event(),
                     lambda skipped: None)

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert counts == [1] * 5


# --- a fresh charrnn-tui process per entry point ------------------------------------------

def _run(home, *argv, env=None, code="from charrnn_tui.cli import main; rc = main(sys.argv[1:])"):
    """The real entry point in a fresh process; prints the main thread's count after it."""
    script = (f"import sys, torch; {code}; "
              "print('THREADS', torch.get_num_threads(), file=sys.stderr); sys.exit(rc)")
    environ = {k: v for k, v in os.environ.items() if k not in (ENV_THREADS, "OMP_NUM_THREADS")}
    return subprocess.run([sys.executable, "-c", script, "--home", str(home), *argv],
                          capture_output=True, text=True, timeout=180,
                          env=environ | {ENV_HOME: str(home)} | (env or {}))


def _threads(proc) -> int:
    assert proc.returncode == 0, proc.stderr
    return int(proc.stderr.split("THREADS")[-1])


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    base = tmp_path_factory.mktemp("threads")
    corpus = kit.write_text(base / "tiny.txt")
    proc = _run(base / "home", "train", str(corpus), "--impl", "torch", "--layers", "1",
                "--hidden", "16", "--batch", "4", "--seq", "8", "--max-steps", "5",
                "--json", "--name", "m", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    return base, corpus, json.loads(proc.stdout.splitlines()[-1])


def test_train_reports_the_threads_it_trained_on(small_model):
    base, corpus, result = small_model
    assert result["threads"] == 1
    proc = _run(base / "home", "train", str(corpus), "--impl", "torch", "--layers", "1",
                "--hidden", "16", "--batch", "4", "--seq", "8", "--max-steps", "5",
                "--json", "--name", "m2", env={ENV_THREADS: "2"})
    assert json.loads(proc.stdout.splitlines()[-1])["threads"] == 2 == _threads(proc)


def test_sample_generates_on_one_thread_unless_told(small_model):
    home = small_model[0] / "home"
    assert _threads(_run(home, "sample", "m", "--length", "5")) == 1
    assert _threads(_run(home, "sample", "m", "--length", "5", "--threads", "2")) == 2


def test_eval_uses_the_idle_cores_or_the_override(small_model):
    base, corpus, _ = small_model
    proc = _run(base / "home", "eval", "m", str(corpus))
    threads = json.loads(proc.stdout)["threads"]
    assert 1 <= threads <= len(os.sched_getaffinity(0)) and threads == _threads(proc)
    proc = _run(base / "home", "eval", "m", str(corpus), env={ENV_THREADS: "1"})
    assert json.loads(proc.stdout)["threads"] == 1


def test_bad_thread_counts_are_refused_in_one_line(small_model):
    home = small_model[0] / "home"
    proc = _run(home, "sample", "m", "--threads", "0")
    assert proc.returncode == 2 and "at least 1" in proc.stderr
    proc = _run(home, "sample", "m", env={ENV_THREADS: "-1"})
    assert proc.returncode == 2 and ENV_THREADS in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(cores() < 2, reason="one core: nothing to tune")
def test_the_apps_training_thread_tunes_its_count(monkeypatch):
    monkeypatch.delenv(ENV_THREADS, raising=False)
    trainer = kit.trainer("torch", max_steps=3)
    seen = {}
    run = trainer.run

    def recording_run(on_event=None, saver=None, threads=None):
        seen["tuner"], seen["count"] = threads, torch.get_num_threads()
        return run(on_event, saver, threads)

    trainer.run = recording_run
    t = threading.Thread(target=run_training, args=(trainer, lambda events: None, None))
    t.start()
    t.join(60)
    assert isinstance(seen["tuner"], ThreadTuner) and seen["count"] == 1


def test_the_numpy_models_training_is_not_left_on_the_generation_threads_blas_count(
        monkeypatch):
    """numpy's OpenBLAS count is the process's: the app's sampling thread sets it to one,
    and the numpy model's training, on a thread the policy gave two, steps on two anyway."""
    if blas_threads() is None:
        pytest.skip("numpy has no OpenBLAS whose thread count can be read here")
    monkeypatch.delenv(ENV_THREADS, raising=False)
    saved = blas_threads()
    trainer = kit.trainer("numpy", max_steps=4)
    counts = []
    step = trainer.model.train_step

    def recording(*args):
        counts.append(blas_threads())
        return step(*args)

    monkeypatch.setattr(trainer.model, "train_step", recording)

    class Sink:
        def put(self, char, stop):
            pass

    def sample():
        stream_chars(Sampler(build_model(kit.spec("numpy")), kit.ALPHABET), "the", 3, Sink(),
                     threading.Event(), lambda skipped: None)

    def train():
        set_threads(2)  # what training_tuner gives a thread with a fixed count of two
        trainer.run()

    try:
        set_blas_threads(2)
        for target in (sample, train):
            t = threading.Thread(target=target)
            t.start()
            t.join(60)
            if target is sample:
                assert blas_threads() == 1  # the whole process's, not the sampling thread's
    finally:
        set_blas_threads(saved)
    assert counts == [2] * 4
