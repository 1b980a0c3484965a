"""Start-up times: each command-line path and the app's first screen, as ratios to
`python -c "import torch"` measured in the same run (so they compare across machines).

    python bench/startup.py [--repeat 5] [--busy N]

Every figure is the best of --repeat runs in a fresh interpreter. Commands are timed to
exit; `sample` also to its first generated character; the app, in a pseudo-terminal of
100×32 on a first run, to the first frame that shows the Playground and then to the frame
that names the shipped model. The commands' data home is a temporary folder holding 20
saved models.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

from common import add_save_flag, busy, emit

from charrnn_tui.engine.paths import ENV_HOME
from charrnn_tui.resources import open_store
from charrnn_tui.session import ENV_CONFIG

PY = [sys.executable, "-m", "charrnn_tui"]
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
SUBCOMMANDS = ("train", "sample", "eval", "race", "models", "completion")


def best(repeat: int, run: Callable[[], float | None]) -> float | None:
    """The fastest of `repeat` runs; None when the command fails (an older version that
    lacks it, timed for a before/after comparison)."""
    times = [run() for _ in range(repeat)]
    return None if any(t is None for t in times) else min(times)


def timed(argv: list[str], env: dict, before: Callable[[], None] | None = None):
    def run() -> float | None:
        if before:
            before()
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        return time.perf_counter() - start if done.returncode == 0 else None
    return run


def first_char(argv: list[str], env: dict, skip: int) -> Callable[[], float]:
    """Seconds to the first byte after `skip` bytes of output (the echoed seed)."""
    def run() -> float | None:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        proc.stdout.read(skip + 1)
        took = time.perf_counter() - start
        proc.kill()
        proc.wait()
        return took
    return run


def app_paint(env: dict, marks: tuple[bytes, ...], timeout: float = 60.0) -> list[float]:
    """Seconds until each of `marks` has appeared on the app's screen, in order."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app in a 100×32 terminal
        os.execvpe(PY[0], [*PY, "--fresh"], env | {"TERM": "xterm-256color",
                                                 "COLUMNS": "100", "LINES": "32"})
    fcntl_winsize(fd, 32, 100)
    start, seen, times = time.perf_counter(), b"", []
    try:
        while len(times) < len(marks) and time.perf_counter() - start < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                seen += os.read(fd, 1 << 16)
            except OSError:
                break
            text = ANSI.sub(b"", seen)
            while len(times) < len(marks) and marks[len(times)] in text:
                times.append(time.perf_counter() - start)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    if len(times) < len(marks):
        raise RuntimeError(f"the app did not show {marks[len(times)]!r} in {timeout:g} s")
    return times


def fcntl_winsize(fd: int, rows: int, cols: int) -> None:
    import fcntl

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def prepare(home: Path) -> None:
    """20 saved models (copies of the shipped one) and a file to import."""
    os.environ[ENV_HOME] = str(home)
    store = open_store(None)
    source = home / "file.safetensors"
    store.export("shakespeare", source)
    for i in range(20):
        store.import_file(source, f"model-{i:02d}")


def measure(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        prepare(home)
        env = os.environ | {ENV_HOME: str(home), ENV_CONFIG: str(Path(tmp) / "config"),
                            "OMP_NUM_THREADS": "1"}
        base = best(repeat, timed([sys.executable, "-c", "import torch"], env))
        times: dict[str, float] = {}
        for argv in (["--help"], ["--version"], *([c, "--help"] for c in SUBCOMMANDS)):
            times[" ".join(argv)] = best(repeat, timed([*PY, *argv], env))
        times["models (20 saved)"] = best(repeat, timed([*PY, "models"], env))
        times["models show"] = best(repeat, timed([*PY, "models", "show", "model-00"], env))
        names = iter(range(10 ** 6))
        times["models import"] = best(repeat, lambda: timed(
            [*PY, "models", "import", str(home / "file.safetensors"), "--name",
             f"imported-{next(names)}"], env)())
        times["models export"] = best(repeat, timed(
            [*PY, "models", "export", "model-00", tmp, "--force"], env))
        flip = iter(range(10 ** 6))

        def rename() -> float:
            a, b = ("model-01", "renamed") if next(flip) % 2 == 0 else ("renamed", "model-01")
            return timed([*PY, "models", "rename", a, b], env)()

        times["models rename"] = best(repeat, rename)
        victims = iter(range(10 ** 6))

        def remove() -> float:
            name = f"victim-{next(victims)}"
            open_store(None).import_file(home / "file.safetensors", name)
            return timed([*PY, "models", "rm", name], env)()

        times["models rm"] = best(repeat, remove)
        sample = [*PY, "sample", "shakespeare", "--length", "200", "--rng-seed", "1"]
        times["sample --length 200"] = best(repeat, timed(sample, env))
        times["sample: first character"] = best(repeat, first_char(sample, env, skip=1))
        times["sample --n 4"] = best(repeat, timed([*sample, "--n", "4"], env))
        times["sample --beam 4"] = best(repeat, timed([*sample, "--beam", "4"], env))
        # a first run (no models of one's own) opens the Playground on the shipped model
        first_run = env | {ENV_HOME: str(Path(tmp) / "empty")}
        paints = [app_paint(first_run, (b"Playground", b"shakespeare \xc2\xb7"))
                  for _ in range(repeat)]
        times["app: first screen"] = min(p[0] for p in paints)
        times["app: shipped model shown"] = min(p[1] for p in paints)
    return {"import torch (s)": round(base, 3),
            **{f"{k} ×": None if v is None else round(v / base, 3) for k, v in times.items()},
            "seconds": {k: None if v is None else round(v, 3) for k, v in times.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="runs per figure; the best counts")
    p.add_argument("--busy", type=int, default=0, help="busy processes beside the runs")
    add_save_flag(p)
    args = p.parse_args()
    with busy(args.busy):
        result = measure(args.repeat)
    emit({"bench": "startup", "repeat": args.repeat, "busy": args.busy} | result, args)


if __name__ == "__main__":
    main()
