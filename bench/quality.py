"""Validation loss reached in a wall-clock budget with a preset.

    python bench/quality.py ../shared/data/tinyshakespeare.txt --budget 120 --preset quick
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import emit  # noqa: E402
from engine.corpus import load_corpus  # noqa: E402
from engine.events import Evaluated  # noqa: E402
from engine.models import ModelSpec, build_model, count_parameters  # noqa: E402
from engine.presets import PRESETS  # noqa: E402
from engine.trainer import TrainConfig, Trainer  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("--budget", type=float, default=120)
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS))
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=1337)
    args = p.parse_args()
    preset = PRESETS[args.preset]
    corpus = load_corpus(args.corpus)
    spec = ModelSpec(**preset.model, vocab=corpus.chars)
    train = {k: v for k, v in preset.train.items() if k not in ("time_budget", "epochs")}
    config = TrainConfig(**train, time_budget=args.budget, precision=args.precision,
                         seed=args.seed)
    trainer = Trainer(build_model(spec, args.seed), corpus.data, config)
    curve: list[tuple[int, float]] = []

    def record(event) -> None:
        if isinstance(event, Evaluated):
            curve.append((event.step, round(event.val_loss, 4)))

    done = trainer.run(record)
    emit({"bench": "quality", "preset": args.preset, "budget_s": args.budget,
          "val_loss": round(done.val_loss, 4), "val_bpc": round(done.val_bpc, 4),
          "steps": done.step, "chars_per_s": round(done.chars_per_s),
          "params": count_parameters(spec), "precision": trainer.precision,
          "val_curve": curve})


if __name__ == "__main__":
    main()
