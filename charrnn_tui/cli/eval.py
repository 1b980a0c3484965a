"""`charrnn-tui eval`: the cross-entropy of a text under a model, as JSON."""

from __future__ import annotations

import argparse
import json
import math
import sys

from charrnn_tui.cli.args import positive_int
from charrnn_tui.cli.common import UserError, load_checked
from charrnn_tui.engine.training.evaluate import PROTOCOLS, WINDOW


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    e = sub.add_parser("eval", help="cross-entropy of a text under a model (JSON)",
                       parents=[threads])
    e.add_argument("model", help="saved model name (NAME or NAME:best) or a model file")
    e.add_argument("textfile", help="the text to score")
    e.add_argument("--encoding", help="text encoding of the file (default: detect UTF-8/16)")
    e.add_argument("--protocol", choices=PROTOCOLS, default="stream",
                   help="stream: the whole text read with carried state (default); window: "
                        "every --window-long window from a zero state, as nanoGPT scores")
    e.add_argument("--window", type=positive_int, default=WINDOW, metavar="N",
                   help=f"window length for --protocol window (default {WINDOW})")
    return e


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch  # noqa: F401  before use_threads, which sets torch's count if it is loaded

    from charrnn_tui.engine.analysis.entropy import LN2
    from charrnn_tui.engine.data.sources import load_corpus
    from charrnn_tui.engine.generation.sampler import unknown_chars
    from charrnn_tui.engine.models import restore_model
    from charrnn_tui.engine.threads import use_threads
    from charrnn_tui.engine.training.evaluate import SHIFTS, cross_entropy
    from charrnn_tui.resources import open_store

    threads = use_threads("eval", args.threads)
    ckpt = load_checked(open_store(args.home), args.model)
    corpus = load_corpus(args.textfile, encoding=args.encoding, home=args.home)
    missing = unknown_chars("".join(corpus.chars), ckpt.spec.vocab)
    if missing:
        print(f"charrnn-tui: {len(missing)} character(s) the model never saw are not scored: "
              f"{' '.join(map(repr, missing[:20]))}", file=sys.stderr)
    index = {c: i for i, c in enumerate(ckpt.spec.vocab)}
    ids = np.array([index.get(c, -1) for c in corpus.chars])[corpus.data]
    data = ids[ids >= 0]
    if len(data) < 2:
        raise UserError(f"{args.textfile}: fewer than 2 characters the model knows; "
                        "nothing to score")
    nats = cross_entropy(restore_model(ckpt), data, args.protocol, window=args.window)
    finite = math.isfinite(nats)  # NaN and Infinity are not JSON: null, and say so
    window = ({"window": min(args.window, len(data) - 1), "shifts": SHIFTS}
              if args.protocol == "window" else {})
    print(json.dumps({"model": args.model, "file": args.textfile, "chars": int(len(data)),
                      "protocol": args.protocol, **window,
                      "nats_per_char": nats if finite else None,
                      "bits_per_char": nats / LN2 if finite else None,
                      "unknown_chars": missing, "threads": threads}, allow_nan=False))
    if not finite:
        print(f"charrnn-tui: the loss is not finite ({nats}); the model's outputs overflow",
              file=sys.stderr)
        return 1
    return 0
