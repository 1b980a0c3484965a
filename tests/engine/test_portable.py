"""Every OS: the store and the app without `fcntl` (Windows has none), the thread policy
without /proc/stat (macOS and Windows have none)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from helpers import FOLDER

from charrnn_tui.engine import threads
from charrnn_tui.engine.threads import IdleMeter, ThreadTuner, cores, free_cores, training_tuner


def test_store_and_app_import_save_and_load_without_fcntl(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.modules["fcntl"] = None  # as on Windows: `import fcntl` raises ImportError
        sys.path.insert(0, {str(FOLDER)!r})
        import charrnn_tui.app  # noqa: F401
        import kit
        from charrnn_tui.engine.storage.store import ModelStore, StoreError

        store = ModelStore({str(tmp_path / "models")!r})
        ckpt = kit.checkpoint("torch")
        ckpt.state.step = 7
        store.create("portable")
        store.save(ckpt, "portable")
        try:
            ModelStore(store.root).save(ckpt, "portable")
        except StoreError as e:
            print("held:", e)
        store.release("portable")
        print("loaded step", store.load("portable").state.step)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "held: model 'portable' is in use by another" in done.stdout
    assert "loaded step 7" in done.stdout


def test_thread_policy_without_proc_stat(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "PROC_STAT", str(tmp_path / "no-such-stat"))
    assert IdleMeter().idle() is None
    assert free_cores(window=0) == max(1, cores() - 1)  # every core but one
    tuner = training_tuner()
    assert tuner is None if cores() == 1 else isinstance(tuner, ThreadTuner)


def test_tuner_without_idle_readings_tries_every_core_and_keeps_what_is_faster():
    counts: list[int] = []
    now = [0.0]
    tuner = ThreadTuner(4, counts.append, lambda: None, probe_steps=3, recheck=10.0,
                        clock=lambda: now[0])
    for _ in range(4):
        tuner.step_done(0.10)
    assert counts == [1, 4]  # no idle figure: it tries all the cores...
    for _ in range(4):
        tuner.step_done(0.20)
    assert tuner.threads == 1  # ...and keeps one when four were slower
