"""Open-ended runs read at fixed steps, so a busy machine changes nothing (one thread).

    python bench/steps.py CORPUS 1000,4000 cosine            # a cosine run told its length
    python bench/steps.py CORPUS 1000,4000 rsqrt ema=0.9995 rsqrt_steps=2000
    python bench/steps.py CORPUS 1000,4000 constant optimizer=sf-adamw warmup_steps=100

The 2×256 LSTM at 16 × 50, 5e-3 unless `lr=` says otherwise. `cosine` trains one run per
reading, each as long as the reading; any other schedule trains one run, evaluated at each
reading and continued. Prints the validation loss (stream) at each.
"""

from __future__ import annotations

import argparse
import json

import torch

from charrnn_tui.engine.data.sources import load_corpus
from charrnn_tui.engine.models import ModelSpec, build_model
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.trainer import Trainer


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("corpus")
    p.add_argument("reads", help="steps at which to read, e.g. 1000,4000")
    p.add_argument("schedule", choices=("constant", "cosine", "rsqrt"))
    p.add_argument("set", nargs="*", metavar="FIELD=VALUE", help="TrainConfig fields")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(1)
    corpus = load_corpus(args.corpus)
    reads = sorted(int(x) for x in args.reads.split(","))
    spec = ModelSpec(impl="torch", cell="lstm", layers=2, hidden=256, embed=64,
                     vocab=corpus.chars)
    fields = dict(batch=16, seq=50, lr=5e-3, eval_every=1e9, gradflow_every=0,
                  report_every=1e9, patience=0, schedule=args.schedule, seed=args.seed)
    fields |= {k: _value(v) for k, v in (item.split("=", 1) for item in args.set)}
    out = {"schedule": args.schedule, "set": args.set, "seed": args.seed, "reads": {}}
    if args.schedule == "cosine":  # told its length: one run per reading
        for r in reads:
            trainer = Trainer(build_model(spec, args.seed), corpus.data,
                              TrainConfig(**fields, max_steps=r))
            out["reads"][r] = round(trainer.run().val_loss, 4)
    else:  # one run, read and continued
        config = TrainConfig(**fields, max_steps=reads[0])
        trainer = Trainer(build_model(spec, args.seed), corpus.data, config)
        done = 0
        for r in reads:
            config.max_steps = r - done
            out["reads"][r] = round(trainer.run().val_loss, 4)
            done = r
    print(json.dumps(out))


if __name__ == "__main__":
    main()
