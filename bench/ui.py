"""Responsiveness while training inside the app, and in-app against headless throughput;
or, with --playground, while the Playground streams at speed "max".

    python bench/ui.py [CORPUS] [--seconds 40] [--keys 60] [--busy N] [--app-threads N]
    python bench/ui.py --playground [--model shakespeare] [--seconds 20] [--keys 60]

Runs the real app headless (App.run_test), loads CORPUS, starts the quick preset, then
presses ] and [ in the Playground while training runs. A key's latency is measured from
posting the key event to the temperature widget showing the new value, as seen from the
UI's own event loop (the loop the training thread competes with). Throughput is the
trainer's characters per second over the same window, against a headless run of the
same settings and thread policy in this process, with the same busy competitors beside
it, and against a headless run on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time

import numpy as np
from common import SHAKESPEARE, add_save_flag, busy, emit
from textual import events
from textual.widgets import Input

from charrnn_tui.app import CharRNNApp
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model
from charrnn_tui.engine.threads import ENV_THREADS, training_tuner
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.presets import PRESETS
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.panes.train.pane import TrainPane
from charrnn_tui.widgets.temperature import TemperatureControl


async def until(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        await asyncio.sleep(0.01)


async def start_training(pilot, corpus: str, fields: dict[str, str]) -> TrainPane:
    """Load `corpus` in the Corpus tab, set training `fields`, press Start; the Train pane."""
    app = pilot.app
    await pilot.press("f2")
    app.query_one("#path", Input).value = corpus
    app.query_one("#path", Input).focus()
    await pilot.press("enter")
    pane = app.query_one(TrainPane)
    await until(lambda: pane.corpus is not None)
    await pilot.press("f3")
    for fid, value in fields.items():
        app.query_one(f"#{fid}", Input).value = value
    await pilot.press("f6")
    await until(lambda: pane.trainer is not None)
    return pane


def send_key(app: CharRNNApp, key: str, char: str | None) -> None:
    """Deliver a key the way the terminal driver does."""
    event = events.Key(key, char)
    event.set_sender(app)
    app._driver.send_message(event)


async def nudge_temperature(app: CharRNNApp, temp: TemperatureControl, seconds: float,
                            keys: int) -> list[float]:
    """Press ] and [ in turn, `keys` times spread over `seconds`; the seconds from each
    press until the control shows the new value."""
    latencies: list[float] = []
    for i in range(keys):
        key, char = ("right_square_bracket", "]") if i % 2 == 0 else (
            "left_square_bracket", "[")
        before = temp.value
        start = time.perf_counter()
        send_key(app, key, char)
        await until(lambda b=before: temp.value != b, 10)
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(max(0.0, seconds / keys - latencies[-1]))
    return latencies


def latency_summary(latencies: list[float]) -> dict:
    lat = np.array(latencies) * 1000
    return {"p50": round(float(np.percentile(lat, 50)), 1),
            "p95": round(float(np.percentile(lat, 95)), 1),
            "max": round(float(lat.max()), 1), "n": len(lat)}


async def in_app(corpus: str, seconds: float, keys: int, home: str) -> dict:
    app = CharRNNApp(home, fresh=True)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = await start_training(pilot, corpus, {"eval_every": "1000", "sample_every": "0"})
        await until(lambda: pane.trainer.state.step > 2)
        trainer = pane.trainer
        chars0, t0 = trainer.state.chars_seen, time.perf_counter()
        send_key(app, "f4", None)
        temp = app.query_one("#temperature", TemperatureControl)
        await asyncio.sleep(0.5)
        temp.focus()
        await asyncio.sleep(0.5)
        latencies = await nudge_temperature(app, temp, seconds, keys)
        rate = (trainer.state.chars_seen - chars0) / (time.perf_counter() - t0)
        trainer.stop(final_eval=False)
        await until(lambda: not pane.running)
    return {"key_latency_ms": latency_summary(latencies),
            "in_app_chars_per_s": round(rate)}


async def playground(model: str, seconds: float, keys: int, home: str) -> dict:
    """Stream at speed "max" in the Playground; characters shown per second (from the
    pane's own text, what reached the screen), and key latency as above meanwhile."""
    from textual.widgets import Select

    from charrnn_tui.engine.generation.sampler import Sampler
    from charrnn_tui.engine.models import restore_model
    from charrnn_tui.panes.playground.pane import PlaygroundPane
    from charrnn_tui.resources import open_store

    app = CharRNNApp(home, fresh=True)
    ckpt = open_store().load(model)
    async with app.run_test(size=(120, 40)):
        play = app.query_one(PlaygroundPane)
        send_key(app, "f4", None)
        with contextlib.suppress(TimeoutError):  # a first run loads a shipped model itself
            await until(lambda: play.sampler is not None, 5)
        await play.set_model(model, ckpt, restore_model(ckpt))
        await until(lambda: isinstance(play.sampler, Sampler))
        app.query_one("#speed", Select).value = 0
        app.query_one("#length", Input).value = "1000000"
        app.query_one("#seed", Input).value = "ROMEO:"
        await play.action_generate()
        await until(lambda: len(play.text) > 500)
        temp = app.query_one("#temperature", TemperatureControl)
        temp.focus()
        n0, t0 = len(play.text), time.perf_counter()
        latencies = await nudge_temperature(app, temp, seconds, keys)
        rate = (len(play.text) - n0) / (time.perf_counter() - t0)
        await play.action_stop()
    return {"key_latency_ms": latency_summary(latencies),
            "shown_chars_per_s": round(rate)}


def headless_sampler(model: str, seconds: float = 3.0) -> float:
    """The same model's streaming sampler outside the app, on a thread set up as the
    Playground's is (the same thread policy), in characters per second."""
    from concurrent.futures import ThreadPoolExecutor

    from charrnn_tui.engine.generation.sampler import Sampler
    from charrnn_tui.engine.models import restore_model
    from charrnn_tui.engine.threads import use_threads
    from charrnn_tui.resources import open_store

    ckpt = open_store().load(model)
    sampler = Sampler(restore_model(ckpt), ckpt.spec.vocab)

    def run() -> float:
        use_threads("generate")
        sampler.prime("ROMEO:")
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            for _ in sampler.stream(500):
                n += 1
        return n / (time.perf_counter() - t0)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def headless(corpus: str, seconds: float) -> float:
    preset = PRESETS["quick"]
    c = load_corpus(corpus)
    config = TrainConfig(**(preset.train | {"time_budget": seconds, "eval_every": 1e9}))
    trainer = Trainer(build_model(ModelSpec(**preset.model, vocab=c.chars)), c.data, config)
    return trainer.run(threads=training_tuner()).chars_per_s


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus", nargs="?", default=str(SHAKESPEARE))
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--keys", type=int, default=60)
    p.add_argument("--app-threads", type=int,
                   help="a fixed torch thread count (app and headless) instead of the policy")
    p.add_argument("--busy", type=int, default=0,
                   help="busy processes beside the app and the headless run")
    p.add_argument("--playground", action="store_true",
                   help="measure the Playground streaming at speed max instead of training")
    p.add_argument("--model", default="shakespeare", help="with --playground: a model name")
    add_save_flag(p)
    args = p.parse_args()
    if args.playground:
        with busy(args.busy), tempfile.TemporaryDirectory() as home:
            result = asyncio.run(playground(args.model, args.seconds, args.keys, home))
            result["headless_sampler_chars_per_s"] = round(headless_sampler(args.model))
        result["shown_vs_headless"] = round(result["shown_chars_per_s"]
                                            / result["headless_sampler_chars_per_s"], 3)
        emit({"bench": "ui-playground", "model": args.model, "seconds": args.seconds,
              "busy": args.busy, **result}, args)
        return
    if args.app_threads:
        os.environ[ENV_THREADS] = str(args.app_threads)  # what a user would set
    quiet = round(headless(args.corpus, args.seconds)) if args.busy else None
    with busy(args.busy):
        with tempfile.TemporaryDirectory() as home:
            result = asyncio.run(in_app(args.corpus, args.seconds, args.keys, home))
        result["headless_chars_per_s"] = round(headless(args.corpus, args.seconds))
    result["in_app_vs_headless"] = round(result["in_app_chars_per_s"]
                                         / result["headless_chars_per_s"], 3)
    if quiet:
        result["quiet_headless_chars_per_s"] = quiet
        result["in_app_vs_quiet_headless"] = round(result["in_app_chars_per_s"] / quiet, 3)
    emit({"bench": "ui", "seconds": args.seconds, "busy": args.busy, **result}, args)


if __name__ == "__main__":
    main()
