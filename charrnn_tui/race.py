"""`charrnn-tui race`: train two to four configurations for the same budget, save each as a
model, and print a table of how far each got."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.sources import canonical, load_corpus
from charrnn_tui.engine.models import ModelSpec
from charrnn_tui.engine.storage.store import ModelStore, check_name
from charrnn_tui.engine.threads import training_tuner
from charrnn_tui.engine.training.events import Evaluated, Event, Notice
from charrnn_tui.engine.training.race import (
    Lap,
    Race,
    lap_label,
    race_config,
    race_specs,
    train_chars,
)
from charrnn_tui.names import free_name, name_stem
from charrnn_tui.resources import open_store

COLUMNS = ("run", "model", "val loss", "bits/char", "params", "chars/s", "steps")


def race_name(store: ModelStore, corpus_name: str, spec: ModelSpec, taken: set[str]) -> str:
    """A free store name like `tinyshakespeare-race-lstm-torch`."""
    base = check_name(f"{name_stem(corpus_name)[:40]}-race-{spec.cell}-{spec.impl}")
    name = free_name(store, base)
    n = 2
    while name in taken:
        name = free_name(store, f"{base}-{n}")
        n += 1
    return name


def table_rows(laps: list[Lap], names: list[str]) -> list[tuple[str, ...]]:
    """The final table, best validation loss marked with ★."""
    vals = [lap.finished.val_loss for lap in laps if lap.finished.val_loss is not None]
    best = min(vals) if vals else None
    rows = []
    for lap, name in zip(laps, names, strict=False):
        f = lap.finished
        star = " ★" if f.val_loss is not None and f.val_loss == best and len(laps) > 1 else ""
        rows.append((name, lap_label(lap.spec),
                     "–" if f.val_loss is None else f"{f.val_loss:.4f}{star}",
                     "–" if lap.val_bpc is None else f"{lap.val_bpc:.3f}",
                     f"{lap.params:,}", f"{f.chars_per_s:,.0f}", f"{f.step:,}"))
    return rows


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(COLUMNS)]
    for line in (COLUMNS, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def race(args: argparse.Namespace) -> int:
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
