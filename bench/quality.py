"""Validation loss reached in wall-clock time, side by side, several seeds, one machine.

    python bench/quality.py ../shared/data/tinyshakespeare.txt --budget 120 --preset quick
    python bench/quality.py CORPUS --read 30,120 --budget 30 120 \\
        --preset auto quick baseline --seeds 1 2 --save quality
    python bench/quality.py CORPUS --slice 200000 --read 30,120 --preset auto baseline
    python bench/quality.py CORPUS --budget 120 --preset quick+resume   # 120 s, then 120 more
    python bench/quality.py CORPUS --budget 30 --preset numpy minchar --seeds 1 2
    python bench/quality.py CORPUS --steps 300 --preset quick --seeds 1 2 --set ema=0.999

Runs (any mix, in this order for each seed):
- a preset's name. A budgeted one (quick, tiny, ...) trains for each `--budget`; an
  open-ended one (`auto`, fitted to the text as the app and `train` fit it) trains once
  and is *read* at each `--read` second: training pauses, the weights it would save if
  stopped then are scored (`val`), and `best` is what stopping then keeps (the better of
  that and the run's own evaluations so far). Reading time is not training time;
- `PRESET+resume`: the preset for `--budget`, then resumed from its checkpoint for as
  long again (compare with the preset at twice the budget);
- `baseline`: a plain PyTorch 2×256 LSTM loop made fair (bench/baseline.py), read at the
  same seconds, its rate from `--baseline-lr` or the best of a `--sweep` of short runs;
- `numpy`, the numpy implementation with its defaults; `minchar`, Karpathy's published
  min-char-rnn loop (bench/minchar.py).

Scores are on the validation split (the last tenth) by --protocol: `stream` (carried state
over the whole split) and/or `window` (every 256-character window from a zero state, as
nanoGPT's figure). `--slice N` trains and scores on the first N characters only. Every
output names the machine (CPU, its bf16 flags, cores, torch).

Every run is built, trained and scored on a thread of its own, as the app trains, and the
main thread computes on one thread only: a second OpenMP team alive in the process makes
libgomp put each team's threads to sleep between parallel regions (engine/threads.py), which
cost a run trained apart from where it was built 20-40% of its speed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from baseline import BATCH, LR, SEQ, PlainLSTM, best_rate, train_baseline
from common import add_save_flag, emit, machine
from minchar import train_minchar

from charrnn_tui.engine.data.corpus import split_at
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model, count_parameters, restore_model
from charrnn_tui.engine.threads import set_threads, training_tuner
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.evaluate import (
    WINDOW,
    mean_cross_entropy,
    window_cross_entropy,
)
from charrnn_tui.engine.training.events import Evaluated
from charrnn_tui.engine.training.presets import AUTO, IMPL_DEFAULTS, PRESETS, auto_preset
from charrnn_tui.engine.training.resume import resume_trainer
from charrnn_tui.engine.training.trainer import Trainer

EXTRA_RUNS = ("numpy", "minchar", "baseline")
T = TypeVar("T")
_STOPS = ("time_budget", "epochs", "max_steps")


class Text:
    """The corpus as the runs see it: the encoded characters (maybe a slice), the vocabulary."""

    def __init__(self, source: str, chars: int | None):
        corpus = load_corpus(source)
        self.data = corpus.data[:chars] if chars else corpus.data
        self.corpus = dataclasses.replace(corpus, data=self.data)
        self.chars = corpus.chars
        cut = split_at(len(self.data), 0.9)
        self.train, self.val = self.data[:cut], self.data[cut:]


def _cast(default, value: str):
    """A --set value as the type of the field's default."""
    if isinstance(default, int) and not isinstance(default, bool):
        return int(value)
    try:
        return float(value) if isinstance(default, float) or default is None else value
    except ValueError:
        return value  # e.g. optimizer=adamw, whose default is None


def _setup(name: str, chars: int, overrides: list[str]) -> tuple[dict, dict, str]:
    """The preset's model and training fields with --set applied, and auto's reason."""
    why = ""
    if name == AUTO:
        preset, why = auto_preset(chars)
    else:
        preset = PRESETS.get(name) or IMPL_DEFAULTS[name]
    model, train = dict(preset.model), dict(preset.train)
    for item in overrides:
        key, value = item.split("=", 1)
        if key in ModelSpec.__dataclass_fields__:
            model[key] = _cast(getattr(ModelSpec(), key), value)
        else:
            train[key] = _cast(getattr(TrainConfig(), key), value)
    return model, train, why


def _scores(model, val, protocols: list[str]) -> dict:
    out = {}
    if "stream" in protocols:
        out["val_stream"] = round(mean_cross_entropy(model, val), 4)
    if "window" in protocols:
        out[f"val_window{WINDOW}"] = round(window_cross_entropy(model, val), 4)
    return out


def _trainer(name: str, text: Text, args, seed: int, stop: dict) -> tuple[Trainer, str]:
    model, train, why = _setup(name, len(text.data), args.set)
    spec = ModelSpec(**model, vocab=text.chars)
    train = {k: v for k, v in train.items() if k not in _STOPS}
    if args.eval_every:
        train["eval_every"] = args.eval_every
    config = TrainConfig(**train, **stop, precision=args.precision, seed=seed)
    return Trainer(build_model(spec, seed), text.data, config), why


def _result(name: str, seed: int, trainer: Trainer, done, curve, protocols, text) -> dict:
    final = restore_model(trainer.checkpoint())  # the averaged, best weights it keeps
    return {"run": name, "seed": seed, **_scores(final, text.val, protocols),
            "steps": done.step, "chars_per_s": round(done.chars_per_s),
            "params": count_parameters(trainer.spec), "precision": trainer.precision,
            "why": done.why, "curve": curve}


def _recorder(curve: list):
    start = time.perf_counter()

    def record(event) -> None:
        if isinstance(event, Evaluated):
            curve.append((round(time.perf_counter() - start, 1), round(event.val_loss, 4)))

    return record


def run_budgeted(name: str, text: Text, args, seed: int, budget: float,
                 protocols: list[str]) -> dict:
    stop = {"max_steps": args.steps} if args.steps else {"time_budget": budget}
    trainer, _ = _trainer(name, text, args, seed, stop)
    curve: list = []
    done = trainer.run(_recorder(curve), threads=training_tuner(args.threads))
    result = _result(name, seed, trainer, done, curve, protocols, text)
    if args.steps:
        return result | {"budget_s": None}
    return result | {"run": f"{name} {budget:g} s", f"at {budget:g} s": result.get("val_stream"),
                     "budget_s": budget}


def run_resumed(name: str, text: Text, args, seed: int, budget: float,
                protocols: list[str]) -> dict:
    """`name` for `budget`, then a resume of its checkpoint for `budget` more."""
    first, _ = _trainer(name, text, args, seed, {"time_budget": budget})
    curve: list = []
    first.run(_recorder(curve), threads=training_tuner(args.threads))
    ckpt = first.checkpoint()
    config = TrainConfig(**{k: v for k, v in ckpt.config.items()
                            if k in TrainConfig.__dataclass_fields__})
    second, _ = resume_trainer(ckpt, text.corpus, config, corpus_info={})
    done = second.run(_recorder(curve), threads=training_tuner(args.threads))
    result = _result(f"{name} {budget:g} s + resumed {budget:g} s", seed, second, done, curve,
                     protocols, text)
    return result | {f"at {2 * budget:g} s": result.get("val_stream"), "budget_s": 2 * budget}


def run_open_ended(name: str, text: Text, args, seed: int, protocols: list[str]) -> dict:
    """One run without a budget, paused at each --read second to score what it holds."""
    curve: list = []
    record = _recorder(curve)
    built: list = []
    ready = threading.Event()
    finished: list = []

    def train() -> None:  # built and trained on this thread, as the app does
        try:
            built.append(_trainer(name, text, args, seed, {}))
        finally:
            ready.set()
        trainer = built[0][0]
        finished.append(trainer.run(record, threads=training_tuner(args.threads)))

    thread = threading.Thread(target=train, daemon=True)
    thread.start()
    ready.wait()
    if not built:
        thread.join()
        raise RuntimeError(f"{name}: the trainer could not be built (see above)")
    trainer, why = built[0]
    reads = []
    for at in args.read:
        while trainer.state.seconds < at and thread.is_alive():
            time.sleep(0.02)
        trainer.pause()
        while not trainer.held and thread.is_alive():
            time.sleep(0.002)
        if not thread.is_alive():  # stopped on its own (patience): it holds its best
            val = best = trainer.state.last_val
        else:
            val = trainer.evaluate()
            evals = [v for _, v in curve]
            best = min([val, *evals])
            trainer.resume()
        reads.append({"s": at, "val": round(val, 4), "best": round(best, 4),
                      "trained_s": round(trainer.state.seconds, 1), "steps": trainer.state.step})
    trainer.stop(final_eval=False)
    thread.join()
    done = finished[0]
    result = _result(name, seed, trainer, done, curve, protocols, text)
    flat = {f"at {r['s']:g} s": r["best"] for r in reads}  # one column per reading
    return result | flat | {"reads": reads, "auto": why}


def run_minchar(text: Text, args, seed: int, budget: float, protocols: list[str]) -> dict:
    model, steps = train_minchar(text.train, text.chars, budget, hidden=args.minchar_hidden,
                                 seed=seed)
    scores = _scores(model, text.val, protocols)
    return {"run": "minchar", "seed": seed, **scores, "steps": steps,
            "chars_per_s": round(steps * 25 / budget), "budget_s": budget,
            "params": count_parameters(model.spec), "precision": "fp64",
            "curve": [(budget, scores.get("val_stream"))]}


def _sweep(text: Text, args, seed: int) -> tuple[float, dict]:
    """The baseline's best Adam rate of --sweep, each trained --sweep-budget seconds."""
    return best_rate(text.train, text.chars, args.sweep, args.sweep_budget, seed=seed,
                     precision=args.precision, evaluate=lambda m: mean_cross_entropy(m, text.val),
                     tuner=training_tuner(args.threads))


def run_baseline(text: Text, args, seed: int, budget: float, lr: float) -> dict:
    curve, steps = train_baseline(text.train, text.chars, budget, seed=seed,
                                  evaluate=lambda m: mean_cross_entropy(m, text.val),
                                  reads=args.read, lr=lr, precision=args.precision,
                                  tuner=training_tuner(args.threads))
    model = PlainLSTM(text.chars)
    flat = {f"at {t:g} s": round(v, 4) for t, v in curve}  # its weights then: no best kept
    return {"run": "baseline", "seed": seed, "val_stream": round(curve[-1][1], 4), **flat,
            "reads": [{"s": t, "val": round(v, 4)} for t, v in curve], "lr": lr,
            "steps": steps, "chars_per_s": round(steps * BATCH * SEQ / budget),
            "budget_s": budget, "params": sum(p.numel() for p in model.parameters()),
            "curve": [(round(t, 1), round(v, 4)) for t, v in curve]}


def _apart(job: Callable[..., T], *args) -> T:
    """`job(*args)` on a fresh thread, which ends with it (and its OpenMP team with it)."""
    out: list = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            out.append(job(*args))
        except BaseException as e:  # re-raised on the main thread
            errors.append(e)

    thread = threading.Thread(target=go)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


def plot(results: list[dict], path: str, title: str) -> None:
    import matplotlib  # a bench-only extra: pip install -e ".[bench]"

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours: dict[str, str] = {}
    for r in results:  # one colour per run; its seeds share it and one legend entry
        pts = [(t, v) for t, v in r["curve"] if v is not None]
        label = None if r["run"] in colours else r["run"]
        colour = colours.setdefault(r["run"], f"C{len(colours)}")
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", ms=3, color=colour, label=label)
    ax.set_xlabel("wall-clock seconds (training and evaluation)")
    ax.set_ylabel("validation loss, nats/char (stream)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _seconds(text: str) -> list[float]:
    try:
        values = sorted(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of seconds: {text!r}") from None
    if not values or values[0] <= 0:
        raise argparse.ArgumentTypeError("seconds must be above 0")
    return values


def _parser() -> argparse.ArgumentParser:
    names = sorted(PRESETS) + list(EXTRA_RUNS)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus", help="file, folder or builtin:NAME")
    p.add_argument("--budget", type=float, nargs="+", default=[120.0],
                   help="seconds for each budgeted run (several: one run per budget)")
    p.add_argument("--read", type=_seconds, default=[], metavar="S1,S2,...",
                   help="seconds at which open-ended runs and the baseline are read "
                        "(default: the largest --budget)")
    p.add_argument("--preset", nargs="+", default=["quick"], metavar="RUN",
                   help=f"runs: {', '.join(names)}, or PRESET+resume")
    p.add_argument("--slice", type=int, metavar="CHARS",
                   help="train and score on the first CHARS characters only")
    p.add_argument("--steps", type=int, help="a fixed number of steps instead of --budget "
                   "(for comparing options on a busy machine; budgeted presets only)")
    p.add_argument("--precision", default="auto", help="auto: bf16 where the CPU has it")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--seeds", type=int, nargs="+", help="several seeds instead of --seed")
    p.add_argument("--threads", type=int, help="a fixed thread count instead of the policy")
    p.add_argument("--protocol", choices=("stream", "window", "both"), default="both",
                   help="how the final weights are scored (default both)")
    p.add_argument("--eval-every", type=float, help="seconds between the runs' evaluations")
    p.add_argument("--baseline-lr", type=float, default=LR,
                   help=f"the plain loop's Adam rate (default {LR:g})")
    p.add_argument("--sweep", type=lambda t: [float(x) for x in t.split(",")],
                   metavar="LR1,LR2,...", help="instead: the best of these rates, each "
                   "trained --sweep-budget seconds with the first seed")
    p.add_argument("--sweep-budget", type=float, default=30.0)
    p.add_argument("--minchar-hidden", type=int, default=100,
                   help="min-char-rnn's hidden size (the gist's is 100)")
    p.add_argument("--plot", metavar="FILE.png", help="draw val loss against seconds")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="override preset fields, e.g. hidden=384 lr=0.004 (for tuning)")
    add_save_flag(p)
    return p


def _check(p: argparse.ArgumentParser, args) -> None:
    for name in args.preset:
        base = name.removesuffix("+resume")
        if base not in PRESETS and base not in EXTRA_RUNS or (
                name.endswith("+resume") and base in EXTRA_RUNS):
            p.error(f"unknown run {name!r}")
        if name.endswith("+resume") and args.steps:
            p.error("+resume runs use --budget, not --steps")
    if args.steps and {"minchar", "baseline"} & set(args.preset):
        p.error("--steps applies to presets and numpy only; minchar and baseline use --budget")
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (checked before minutes of training)
        except ImportError:
            p.error('--plot needs matplotlib: pip install -e ".[bench]"')


def _open_ended(name: str) -> bool:
    preset = PRESETS.get(name)
    return preset is not None and not any(k in preset.train for k in _STOPS)


def main() -> None:
    p = _parser()
    args = p.parse_args()
    _check(p, args)
    args.read = args.read or [max(args.budget)]
    text = Text(args.corpus, args.slice)
    protocols = ["stream", "window"] if args.protocol == "both" else [args.protocol]
    seeds = args.seeds or [args.seed]
    set_threads(1)  # the main thread never holds a second OpenMP team (see the top)
    lr, sweep = args.baseline_lr, None
    if args.sweep and "baseline" in args.preset:
        lr, sweep = _apart(_sweep, text, args, seeds[0])
        print(json.dumps({"sweep": sweep, "chosen": lr}), flush=True)
    results = []
    for seed in seeds:
        for name in args.preset:
            if name == "baseline":
                batch = [_apart(run_baseline, text, args, seed, args.read[-1], lr)]
            elif name == "minchar":
                batch = [run_minchar(text, args, seed, b, protocols) for b in args.budget]
            elif name.endswith("+resume"):
                batch = [_apart(run_resumed, name.removesuffix("+resume"), text, args, seed, b,
                                protocols) for b in args.budget]
            elif _open_ended(name):
                batch = [run_open_ended(name, text, args, seed, protocols)]
            else:
                batch = [_apart(run_budgeted, name, text, args, seed, b, protocols)
                         for b in ([None] if args.steps else args.budget)]
            for result in batch:
                results.append(result)
                print(json.dumps({k: v for k, v in result.items() if k != "curve"}),
                      flush=True)
    emit({"bench": "quality", "corpus": text.corpus.name, "chars": len(text.data),
          "slice": args.slice, "budgets_s": None if args.steps else args.budget,
          "reads_s": args.read, "steps": args.steps, "protocols": protocols,
          "overrides": args.set, "baseline_sweep": sweep, "machine": machine(),
          "threads": args.threads or "each run's tuner",
          "runs": results}, args)
    if args.plot:  # after the results are out: a plot that fails loses nothing
        plot(results, args.plot, f"{text.corpus.name}, validation loss against time")


if __name__ == "__main__":
    main()
