"""Memory over a long session in the app: training, then a long generation stream.

    python bench/soak.py [CORPUS] [--train 420] [--generate 180] [--every 5]

Samples this process's RSS every few seconds. Growth is measured against the level
after a warm-up (the first minute of each phase), since torch and the allocator settle
their pools early.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import SHAKESPEARE, add_save_flag, emit
from textual.widgets import Input, Select
from ui import start_training, until

from charrnn_tui.app import CharRNNApp
from charrnn_tui.panes.playground.pane import PlaygroundPane

WARM_UP = 60.0


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


def growth(points: list[tuple[float, float]]) -> dict:
    settled = [r for t, r in points if t >= WARM_UP]
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", nargs="?", default=str(SHAKESPEARE))
    p.add_argument("--train", type=float, default=420)
    p.add_argument("--generate", type=float, default=180)
    p.add_argument("--every", type=float, default=5)
    add_save_flag(p)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as home:
        result = asyncio.run(soak(args.corpus, args.train, args.generate, args.every, home))
    emit({"bench": "soak", **result}, args)


if __name__ == "__main__":
    main()
