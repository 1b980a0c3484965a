"""Validation loss reached in a wall-clock budget with a preset.

    python bench/quality.py ../shared/data/tinyshakespeare.txt --budget 120 --preset quick
"""

from __future__ import annotations

import argparse

from common import emit

from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model, count_parameters
from charrnn_tui.engine.threads import training_tuner
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.events import Evaluated
from charrnn_tui.engine.training.presets import PRESETS
from charrnn_tui.engine.training.trainer import Trainer


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("--budget", type=float, default=120)
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, help="a fixed thread count instead of the policy")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE",
                   help="override preset fields, e.g. hidden=384 lr=0.004 (for tuning)")
    args = p.parse_args()
    preset = PRESETS[args.preset]
    corpus = load_corpus(args.corpus)
    model, train = dict(preset.model), dict(preset.train)
    for item in args.set:
        key, value = item.split("=", 1)
        target = model if key in ModelSpec.__dataclass_fields__ else train
        target[key] = type(target.get(key, 0.0))(value) if key in target else float(value)
    spec = ModelSpec(**model, vocab=corpus.chars)
    train = {k: v for k, v in train.items() if k not in ("time_budget", "epochs")}
    config = TrainConfig(**train, time_budget=args.budget, precision=args.precision,
                         seed=args.seed)
    trainer = Trainer(build_model(spec, args.seed), corpus.data, config)
    curve: list[tuple[int, float]] = []

    def record(event) -> None:
        if isinstance(event, Evaluated):
            curve.append((event.step, round(event.val_loss, 4)))

    done = trainer.run(record, threads=training_tuner(args.threads))
    emit({"bench": "quality", "preset": args.preset, "budget_s": args.budget,
          "val_loss": round(done.val_loss, 4), "val_bpc": round(done.val_bpc, 4),
          "steps": done.step, "chars_per_s": round(done.chars_per_s),
          "params": count_parameters(spec), "precision": trainer.precision,
          "overrides": args.set,
          "val_curve": curve})


if __name__ == "__main__":
    main()
