"""Cost of the gradient-flow diagnostic: training throughput with it off and at the default
cadence, side by side, plus the time of one pass against the cadence.

    python bench/gradflow.py [--seconds 15] [--rounds 2] [--threads 1]

Rounds alternate off/on in a rotating order so drift in machine load hits both alike.
`ab_cost` is 1 − (chars/s on ÷ chars/s off): the direct measure, but on a shared machine
its noise is larger than the effect. `time_share` is the fraction of each "on" run's
wall-clock time spent inside the diagnostic passes (timed around every call), which is the
throughput it costs and is steady under load; `pass_seconds` is one pass, timed alone.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import SHAKESPEARE, add_save_flag, emit

from charrnn_tui.engine.analysis.gradflow import gradient_flow
from charrnn_tui.engine.data.batching import StreamBatcher
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model
from charrnn_tui.engine.training import trainer as trainer_module
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.trainer import Trainer

CADENCE = TrainConfig().gradflow_every
SETUPS = {  # name: (model, batch, seq)
    "torch lstm 2x256 (quick preset)": (dict(impl="torch", cell="lstm", layers=2, hidden=256,
                                             embed=64), 32, 100),
    "torch rnn 1x128": (dict(impl="torch", cell="rnn", layers=1, hidden=128, embed=32), 32, 100),
    "scratch lstm 1x128": (dict(impl="scratch", cell="lstm", layers=1, hidden=128), 32, 100),
    "numpy rnn 1x100": (dict(impl="numpy", cell="rnn", layers=1, hidden=100), 32, 25),
}


def train_rate(corpus, model: dict, batch: int, seq: int, seconds: float,
               every: float) -> tuple[float, float]:
    """chars/s of a run, and the share of its time spent in gradient-flow passes."""
    spent = [0.0]

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return gradient_flow(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    spec = ModelSpec(**model, vocab=corpus.chars)
    config = TrainConfig(batch=batch, seq=seq, time_budget=seconds, eval_every=1e9,
                         autosave_every=0, gradflow_every=every, precision="fp32")
    trainer = Trainer(build_model(spec, 0), corpus.data, config)
    trainer._final_eval = False  # the closing evaluation is not training
    trainer_module.gradient_flow = timed
    try:
        done = trainer.run()
    finally:
        trainer_module.gradient_flow = gradient_flow
    return done.chars_per_s, spent[0] / done.seconds


def pass_seconds(corpus, model: dict, batch: int, seq: int, repeats: int = 5) -> float:
    m = build_model(ModelSpec(**model, vocab=corpus.chars), 0)
    chunk = StreamBatcher(corpus.data, batch, seq).chunk(0)
    gradient_flow(m, chunk.x, chunk.y)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        gradient_flow(m, chunk.x, chunk.y)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (1: on a busy machine, spinning OpenMP threads make "
                        "every step many times slower, and the numbers meaningless)")
    add_save_flag(p)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    corpus = load_corpus(SHAKESPEARE)
    results = {}
    for name, (model, batch, seq) in SETUPS.items():
        rates: dict[str, list[float]] = {"off": [], "on": []}
        shares = []
        for r in range(args.rounds):
            order = ("off", "on") if r % 2 == 0 else ("on", "off")
            for which in order:
                every = CADENCE if which == "on" else 0.0
                rate, share = train_rate(corpus, model, batch, seq, args.seconds, every)
                rates[which].append(rate)
                if which == "on":
                    shares.append(share)
        off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
        results[name] = {"chars_per_s_off": round(off), "chars_per_s_on": round(on),
                         "ab_cost": round(1 - on / off, 4),
                         "time_share": round(max(shares), 4),
                         "pass_seconds": round(pass_seconds(corpus, model, batch, seq), 4)}
    emit({"bench": "gradflow", "cadence_s": CADENCE, "seconds_per_run": args.seconds,
          "rounds": args.rounds, "results": results}, args)


if __name__ == "__main__":
    main()
