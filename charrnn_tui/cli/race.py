"""`charrnn-tui race`: train two to four configurations for the same budget, save each as a
model, and print a table of how far each got."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from charrnn_tui.cli.args import DEVICE_HELP, choice_list, device, finite, positive_int, whole
from charrnn_tui.engine.models.spec import CELLS, IMPLEMENTATIONS


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    r = sub.add_parser("race", parents=[threads],
                       help="train 2 to 4 cells/implementations for the same time each",
                       description="Train every (implementation, cell) pair on CORPUS for "
                                   "--time-budget seconds each, one after another, save each "
                                   "as a model and print a table of the results.")
    r.add_argument("corpus", help="file, folder or builtin:NAME")
    r.add_argument("--cells", type=choice_list(CELLS), default=["rnn", "gru", "lstm"],
                   help="comma-separated cells (default: rnn,gru,lstm)")
    r.add_argument("--impls", type=choice_list(IMPLEMENTATIONS), default=["torch"],
                   help="comma-separated implementations (default: torch)")
    r.add_argument("--time-budget", type=finite(), required=True, metavar="SECONDS",
                   help="wall-clock seconds each configuration trains")
    r.add_argument("--hidden", type=positive_int, default=128, help="units per layer")
    r.add_argument("--layers", type=positive_int, default=1,
                   help="layers of the torch models (scratch and numpy have 1)")
    r.add_argument("--embed", type=positive_int, default=32,
                   help="character embedding size of the torch models")
    r.add_argument("--batch", type=positive_int,
                   help="streams trained side by side (default: 32, less for a small corpus)")
    r.add_argument("--seq", type=positive_int,
                   help="characters per truncated-BPTT chunk (default: 100, less for a small "
                        "corpus)")
    r.add_argument("--seed", type=whole(0),
                   help="seed for every lap's weights and batches (default: 1337)")
    r.add_argument("--device", type=device, help=f"{DEVICE_HELP} (default: cpu)")
    r.add_argument("--encoding", help="text encoding of the corpus (default: detect UTF-8/16)")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    return r


def _print_table(rows: list[tuple[str, ...]]) -> None:
    from charrnn_tui.race_results import COLUMNS

    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    for line in (COLUMNS, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def run(args: argparse.Namespace) -> int:
    from charrnn_tui.engine.checkpoint import Checkpoint
    from charrnn_tui.engine.data.sources import canonical, load_corpus
    from charrnn_tui.engine.models import ModelSpec
    from charrnn_tui.engine.threads import training_tuner
    from charrnn_tui.engine.training.events import Evaluated, Event, Notice
    from charrnn_tui.engine.training.race_runner import (
        Race,
        lap_label,
        race_config,
        race_specs,
        train_chars,
    )
    from charrnn_tui.race_results import race_name, table_rows
    from charrnn_tui.resources import open_store

    store = open_store(args.home)
    specs_args = dict(hidden=args.hidden, layers=args.layers, embed=args.embed)
    corpus = load_corpus(args.corpus, encoding=args.encoding, home=args.home)
    for notice in corpus.notices:
        print(f"charrnn-tui: {notice}", file=sys.stderr)
    specs, skipped = race_specs(args.cells, args.impls, corpus.chars, **specs_args)
    for note in skipped:
        print(f"charrnn-tui: {note}", file=sys.stderr)
    over = {k: getattr(args, k) for k in ("batch", "seq", "seed", "device")
            if getattr(args, k) is not None}
    config = race_config(args.time_budget, train_chars(corpus.data), **over)
    names: list[str] = []
    for spec in specs:
        names.append(race_name(store, corpus.name, spec, set(names)))
    the_race = Race(corpus.data, corpus.info(canonical(args.corpus)), specs, config)
    created: list[str] = []

    def saver_for(i: int, spec: ModelSpec):
        store.create(names[i])
        created.append(names[i])
        print(f"charrnn-tui: lap {i + 1} of {len(specs)}: {lap_label(spec)} for "
              f"{args.time_budget:g} s, saving as {names[i]}", file=sys.stderr, flush=True)

        def save(ckpt: Checkpoint, tag: str) -> None:
            store.save(ckpt, names[i], tag)

        return save

    def report(i: int, event: Event) -> None:
        if isinstance(event, Evaluated) and not args.json:
            print(f"  {lap_label(specs[i])}: step {event.step}: val {event.val_loss:.4f}",
                  file=sys.stderr, flush=True)
        elif isinstance(event, Notice):
            print(f"charrnn-tui: {event.message}", file=sys.stderr)

    def on_sigint(signum, frame):
        print("charrnn-tui: stopping the race after this lap's save…", file=sys.stderr)
        the_race.stop()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        laps = the_race.run(report, saver_for, lambda: training_tuner(args.threads))
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for name in created:
            store.release(name)
    if args.json:
        print(json.dumps([{"model": n, "impl": lap.spec.impl, "cell": lap.spec.cell,
                           "hidden": lap.spec.hidden, "layers": lap.spec.layers,
                           "val_loss": lap.finished.val_loss, "val_bpc": lap.val_bpc,
                           "params": lap.params, "chars_per_s": round(lap.finished.chars_per_s),
                           "steps": lap.finished.step, "seconds": round(lap.finished.seconds, 2)}
                          for lap, n in zip(laps, names, strict=False)]))
    else:
        _print_table(table_rows(laps, names))
    return 0 if len(laps) == len(specs) else 130
