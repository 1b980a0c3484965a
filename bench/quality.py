"""Validation loss reached in a wall-clock budget, side by side, several seeds.

    python bench/quality.py ../shared/data/tinyshakespeare.txt --budget 120 --preset quick
    python bench/quality.py CORPUS --budget 30 --preset numpy minchar --seeds 1 2
    python bench/quality.py CORPUS --budget 120 --preset quick baseline --plot q.png
    python bench/quality.py CORPUS --steps 300 --preset quick --seeds 1 2 --set ema=0.999

Runs (any mix, in this order for each seed): a preset's name; `numpy`, the numpy
implementation with its defaults; `minchar`, Karpathy's published min-char-rnn loop
(bench/minchar.py); `baseline`, a plain PyTorch 2×256 LSTM (bench/baseline.py).
Each run's final weights are scored on the validation split by --protocol: `stream`
(carried state over the whole split) and/or `window` (every 256-character window from a
zero state, as nanoGPT's figure). Curves are stream losses against wall-clock seconds.
"""

from __future__ import annotations

import argparse
import json
import time

from baseline import BATCH, SEQ, PlainLSTM, train_baseline
from common import add_save_flag, emit
from minchar import train_minchar

from charrnn_tui.engine.data.corpus import split_at
from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model, count_parameters, restore_model
from charrnn_tui.engine.threads import training_tuner
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.evaluate import (
    WINDOW,
    mean_cross_entropy,
    window_cross_entropy,
)
from charrnn_tui.engine.training.events import Evaluated
from charrnn_tui.engine.training.presets import IMPL_DEFAULTS, PRESETS
from charrnn_tui.engine.training.trainer import Trainer

EXTRA_RUNS = ("numpy", "minchar", "baseline")


def _cast(default, value: str):
    """A --set value as the type of the field's default."""
    if isinstance(default, int) and not isinstance(default, bool):
        return int(value)
    try:
        return float(value) if isinstance(default, float) or default is None else value
    except ValueError:
        return value  # e.g. optimizer=adamw, whose default is None


def _setup(name: str, overrides: list[str]) -> tuple[dict, dict]:
    preset = PRESETS.get(name) or IMPL_DEFAULTS[name]
    model, train = dict(preset.model), dict(preset.train)
    for item in overrides:
        key, value = item.split("=", 1)
        if key in ModelSpec.__dataclass_fields__:
            model[key] = _cast(getattr(ModelSpec(), key), value)
        else:
            train[key] = _cast(getattr(TrainConfig(), key), value)
    return model, train


def _scores(model, val, protocols: list[str]) -> dict:
    out = {}
    if "stream" in protocols:
        out["val_stream"] = round(mean_cross_entropy(model, val), 4)
    if "window" in protocols:
        out[f"val_window{WINDOW}"] = round(window_cross_entropy(model, val), 4)
    return out


def run_trainer(name: str, corpus, args, seed: int, protocols: list[str]) -> dict:
    model, train = _setup(name, args.set)
    spec = ModelSpec(**model, vocab=corpus.chars)
    train = {k: v for k, v in train.items() if k not in ("time_budget", "epochs")}
    if args.eval_every:
        train["eval_every"] = args.eval_every
    budget = {"max_steps": args.steps} if args.steps else {"time_budget": args.budget}
    config = TrainConfig(**train, **budget, precision=args.precision, seed=seed)
    trainer = Trainer(build_model(spec, seed), corpus.data, config)
    start = time.perf_counter()
    curve: list[tuple[float, float]] = []

    def record(event) -> None:
        if isinstance(event, Evaluated):
            curve.append((round(time.perf_counter() - start, 1), round(event.val_loss, 4)))

    done = trainer.run(record, threads=training_tuner(args.threads))
    final = restore_model(trainer.checkpoint())  # the averaged weights where ema is on
    return {"run": name, "seed": seed, **_scores(final, trainer.val_data, protocols),
            "steps": done.step, "chars_per_s": round(done.chars_per_s),
            "params": count_parameters(spec), "precision": trainer.precision, "curve": curve}


def run_minchar(corpus, args, seed: int, protocols: list[str]) -> dict:
    cut = split_at(len(corpus.data), 0.9)
    model, steps = train_minchar(corpus.data[:cut], corpus.chars, args.budget,
                                 hidden=args.minchar_hidden, seed=seed)
    scores = _scores(model, corpus.data[cut:], protocols)
    return {"run": "minchar", "seed": seed, **scores, "steps": steps,
            "chars_per_s": round(steps * 25 / args.budget),
            "params": count_parameters(model.spec), "precision": "fp64",
            "curve": [(args.budget, scores.get("val_stream"))]}


def run_baseline(corpus, args, seed: int, protocols: list[str]) -> dict:
    cut = split_at(len(corpus.data), 0.9)
    val = corpus.data[cut:]
    curve, steps = train_baseline(corpus.data[:cut], corpus.chars, args.budget, seed=seed,
                                  eval_every=args.eval_every or 30.0,
                                  evaluate=lambda m: mean_cross_entropy(m, val),
                                  tuner=training_tuner(args.threads))
    model = PlainLSTM(corpus.chars)
    return {"run": "baseline", "seed": seed, "val_stream": round(curve[-1][1], 4),
            "steps": steps, "chars_per_s": round(steps * BATCH * SEQ / args.budget),
            "params": sum(p.numel() for p in model.parameters()), "precision": "fp32",
            "curve": [(round(t, 1), round(v, 4)) for t, v in curve]}


def plot(results: list[dict], path: str, budget: float) -> None:
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
    ax.set_title(f"Tiny Shakespeare, {budget:g} s budget per run")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("--budget", type=float, default=120)
    p.add_argument("--preset", nargs="+", default=["quick"],
                   choices=sorted(PRESETS) + list(EXTRA_RUNS), metavar="RUN",
                   help=f"runs: {', '.join(sorted(PRESETS))}, {', '.join(EXTRA_RUNS)}")
    p.add_argument("--steps", type=int, help="a fixed number of steps instead of --budget "
                   "(for comparing options on a busy machine; presets and numpy only)")
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--seeds", type=int, nargs="+", help="several seeds instead of --seed")
    p.add_argument("--threads", type=int, help="a fixed thread count instead of the policy")
    p.add_argument("--protocol", choices=("stream", "window", "both"), default="both",
                   help="how the final weights are scored (default both)")
    p.add_argument("--eval-every", type=float, help="seconds between curve points")
    p.add_argument("--minchar-hidden", type=int, default=100,
                   help="min-char-rnn's hidden size (the gist's is 100)")
    p.add_argument("--plot", metavar="FILE.png", help="draw val loss against seconds")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="override preset fields, e.g. hidden=384 lr=0.004 (for tuning)")
    add_save_flag(p)
    args = p.parse_args()
    if args.steps and {"minchar", "baseline"} & set(args.preset):
        p.error("--steps applies to presets and numpy only; minchar and baseline use --budget")
    if args.plot:
        try:
            import matplotlib  # noqa: F401  (checked before minutes of training)
        except ImportError:
            p.error('--plot needs matplotlib: pip install -e ".[bench]"')
    corpus = load_corpus(args.corpus)
    protocols = ["stream", "window"] if args.protocol == "both" else [args.protocol]
    results = []
    for seed in args.seeds or [args.seed]:
        for name in args.preset:
            if name == "minchar":
                result = run_minchar(corpus, args, seed, protocols)
            elif name == "baseline":
                result = run_baseline(corpus, args, seed, protocols)
            else:
                result = run_trainer(name, corpus, args, seed, protocols)
            results.append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "curve"}), flush=True)
    emit({"bench": "quality", "budget_s": None if args.steps else args.budget,
          "steps": args.steps, "protocols": protocols,
          "overrides": args.set, "runs": results}, args)
    if args.plot:  # after the results are out: a plot that fails loses nothing
        plot(results, args.plot, args.budget)


if __name__ == "__main__":
    main()
