"""`charrnn-tui models compare A B …`: the runs side by side, and their curves as SVG."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from charrnn_tui.cli.svg_chart import svg_chart
from charrnn_tui.curve_data import overlay, reference_label
from charrnn_tui.engine.analysis.run_curves import AXES, run_curves
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.storage.modelfile import read_meta
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.references import recorded_references


class CompareError(CharRNNError):
    """A refusal of the compare command, one line for the user."""


def compare(store: ModelStore, args: argparse.Namespace) -> int:
    if len(set(args.names)) < 2:
        raise CompareError("give two or more different models to compare")
    if args.svg:
        dest = Path(args.svg).expanduser()
        if dest.is_dir() or not dest.absolute().parent.is_dir():
            raise CompareError(f"--svg {args.svg}: not a file in an existing folder")
    runs, corpora = [], []
    for name in dict.fromkeys(args.names):
        meta = read_meta(store.resolve(name))  # StoreError/ModelFileError: one line
        runs.append(run_curves(name, meta))
        corpora.append(meta.get("corpus", {}))
    references, why = [], "the runs were trained on different corpora"
    if len({r.corpus_sha256 for r in runs}) == 1 and runs[0].corpus_sha256:
        references, why = recorded_references(corpora[0], store, args.home)
    width = max(len(r.legend) for r in runs)
    print(f"{'run'.ljust(width)}  val loss  bits/char  steps     chars/s")
    for r in runs:
        rate = r.chars_per_step / r.seconds_per_step if r.seconds_per_step else 0.0
        val = "     –  " if r.last_val is None else f"{r.last_val:8.4f}"
        bits = "      –  " if r.last_val is None else f"{r.last_val / 0.6931471805599453:9.3f}"
        print(f"{r.legend.ljust(width)}  {val}  {bits}  {r.steps:<8,}  {rate:,.0f}")
    for name, value in references:
        print(f"reference: {reference_label(name, value)}")
    if why:
        print(f"charrnn-tui: {why}", file=sys.stderr)
    if args.svg:
        curves = overlay(runs, args.axis)
        owners = [i for i in range(len(runs)) for _ in range(2)]
        kept = [(c, o) for c, o in zip(curves, owners, strict=True) if c.points]
        text = svg_chart([c for c, _ in kept], references, colours=[o for _, o in kept],
                         title="charrnn-tui: " + " vs ".join(r.name for r in runs),
                         xlabel=AXES[args.axis], ylabel="loss (nats/char)")
        try:
            Path(args.svg).expanduser().write_text(text, encoding="utf-8")
        except OSError as e:
            raise CompareError(f"could not write {args.svg}: {e.strerror or e}") from None
        print(f"charrnn-tui: wrote {args.svg}", file=sys.stderr)
    return 0
