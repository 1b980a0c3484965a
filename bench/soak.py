"""Memory over a long session in the app: training, then a long generation stream; or,
with --long, one long training with the Playground streaming every few minutes.

    python bench/soak.py [CORPUS] [--train 420] [--generate 180] [--every 5]
    python bench/soak.py [CORPUS] --long 1800 [--stream-every 180] [--stream 20]

Samples this process's RSS every few seconds. Growth is measured against the level
after a warm-up (the first minute of each phase; with --long, the first five minutes),
since torch and the allocator settle their pools early. --long also counts open file
descriptors and threads, and times keys (] and [ on the temperature) near the start and
at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import SHAKESPEARE, add_save_flag, emit
from textual.widgets import Input, Select
from ui import latency_summary, nudge_temperature, start_training, until

from charrnn_tui.app import CharRNNApp
from charrnn_tui.panes.playground.pane import PlaygroundPane
from charrnn_tui.widgets.temperature import TemperatureControl

WARM_UP = 60.0
LONG_WARM_UP = 300.0


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def sample_for(seconds: float, every: float, out: list[tuple[float, float]]) -> None:
    start = time.monotonic()
    while (t := time.monotonic() - start) < seconds:
        out.append((round(t, 1), round(rss_mib(), 1)))
        await asyncio.sleep(every)


def counts() -> tuple[int, int]:
    """Open file descriptors and threads of this process."""
    return len(list(Path("/proc/self/fd").iterdir())), len(list(Path("/proc/self/task").iterdir()))


def growth(points: list[tuple[float, float]], warm_up: float = WARM_UP) -> dict:
    settled = [r for t, r in points if t >= warm_up]
    base = settled[0] if settled else points[-1][1]
    return {"after_warm_up_mib": base, "max_mib": max(r for _, r in points),
            "end_mib": points[-1][1],
            "growth_after_warm_up": round(max(settled or [base]) / base - 1, 4)}


async def soak(corpus: str, train_s: float, gen_s: float, every: float, home: str) -> dict:
    app = CharRNNApp(home, fresh=True)
    training: list[tuple[float, float]] = []
    generating: list[tuple[float, float]] = []
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await start_training(pilot, corpus, {"stop_value": str(int(train_s + 600))})
        await sample_for(train_s, every, training)
        steps = pane.trainer.state.step
        pane.stop_for_exit()
        await until(lambda: not pane.running)
        play = app.query_one(PlaygroundPane)
        await pilot.press("f4")
        play.query_one("#length", Input).value = "1000000"
        play.query_one("#speed", Select).value = 0  # as fast as it generates
        play.query_one("#seed", Input).value = "ROMEO:"
        await play.action_generate()
        await sample_for(gen_s, every, generating)
        lines = len(play.query_one("#output").lines)
        play.stop_for_exit()
    return {"training": growth(training) | {"steps": steps, "samples": training},
            "generating": growth(generating) | {"log_lines_kept": lines,
                                                "samples": generating}}


async def long_soak(corpus: str, seconds: float, stream_every: float, stream_s: float,
                    every: float, home: str, warm_up: float = LONG_WARM_UP) -> dict:
    """Train for `seconds`; every `stream_every` s the Playground streams for `stream_s`."""
    app = CharRNNApp(home, fresh=True)
    rss: list[tuple[float, float]] = []
    fds: list[tuple[float, int, int]] = []
    streams = 0
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await start_training(pilot, corpus, {"stop_value": str(int(seconds + 600))})
        start = time.monotonic()
        play = app.query_one(PlaygroundPane)
        await pilot.press("f4")
        play.query_one("#length", Input).value = "1000000"
        play.query_one("#speed", Select).value = 0  # as fast as it generates
        temp = app.query_one("#temperature", TemperatureControl)

        async def keys() -> dict:
            temp.focus()
            await asyncio.sleep(0.5)
            return latency_summary(await nudge_temperature(app, temp, 20, 40))

        async def stream() -> None:
            play.query_one("#seed", Input).value = "ROMEO:"
            await play.action_generate()
            await asyncio.sleep(stream_s)
            play.stop_for_exit()

        async def sample() -> None:
            while (t := time.monotonic() - start) < seconds:
                rss.append((round(t, 1), round(rss_mib(), 1)))
                fds.append((round(t, 1), *counts()))
                await asyncio.sleep(every)

        sampler = asyncio.create_task(sample())
        await asyncio.sleep(min(WARM_UP, warm_up))
        first_keys = await keys()
        next_stream = time.monotonic()
        while time.monotonic() - start < seconds - 60:
            if time.monotonic() >= next_stream:
                await stream()
                streams += 1
                next_stream += stream_every
            await asyncio.sleep(1)
        last_keys = await keys()
        await sampler
        steps = pane.trainer.state.step
        pane.stop_for_exit()
        await until(lambda: not pane.running)
    settled = [(f, n) for t, f, n in fds if t >= warm_up]
    return {"seconds": seconds, "warm_up": warm_up, "steps": steps, "streams": streams,
            "rss": growth(rss, warm_up),
            "fds_after_warm_up": settled[0][0], "fds_max_after": max(f for f, _ in settled),
            "threads_after_warm_up": settled[0][1],
            "threads_max_after": max(n for _, n in settled),
            "key_latency_ms_start": first_keys, "key_latency_ms_end": last_keys,
            "samples": {"rss": rss, "fds_threads": fds}}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", nargs="?", default=str(SHAKESPEARE))
    p.add_argument("--train", type=float, default=420)
    p.add_argument("--generate", type=float, default=180)
    p.add_argument("--every", type=float, default=5)
    p.add_argument("--long", type=float, metavar="SECONDS",
                   help="one training this long, the Playground streaming now and then")
    p.add_argument("--stream-every", type=float, default=180)
    p.add_argument("--stream", type=float, default=20, help="seconds each stream runs")
    p.add_argument("--warm-up", type=float, default=LONG_WARM_UP,
                   help="with --long: growth is counted from this second on")
    add_save_flag(p)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as home:
        if args.long:
            result = asyncio.run(long_soak(args.corpus, args.long, args.stream_every,
                                           args.stream, args.every, home, args.warm_up))
        else:
            result = asyncio.run(soak(args.corpus, args.train, args.generate, args.every,
                                      home))
    emit({"bench": "soak", **result}, args)


if __name__ == "__main__":
    main()
