"""`charrnn-tui models`: list, show, rename, delete, export, import and compare saved
models; reading only headers and copying files, so torch is never imported."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    m = sub.add_parser("models", help="list and manage saved models")
    msub = m.add_subparsers(dest="action")
    msub.add_parser("list", help="table of saved models (the default)")
    msub.add_parser("show", help="everything a model file records").add_argument("name")
    msub.add_parser("rm", help="delete a saved model").add_argument("name")
    r = msub.add_parser("rename", help="rename a saved model")
    r.add_argument("old")
    r.add_argument("new")
    x = msub.add_parser("export", help="copy a model file out of the store")
    x.add_argument("name")
    x.add_argument("path")
    x.add_argument("--force", action="store_true", help="replace an existing file at PATH")
    x.add_argument("--weights-only", action="store_true",
                   help="leave out the optimizer state (smaller; resuming restarts it)")
    i = msub.add_parser("import", help="validate a model file and add it to the store")
    i.add_argument("path")
    i.add_argument("--name", help="store it under this name (default: the file's stem)")
    c = msub.add_parser("compare", help="overlay saved runs' loss curves: a table, or --svg")
    c.add_argument("names", nargs="+", metavar="NAME")
    c.add_argument("--axis", choices=("step", "chars", "seconds"), default="step",
                   help="x axis: steps, characters seen, or seconds (default: step)")
    c.add_argument("--svg", metavar="FILE", help="write the overlaid curves as an SVG chart")
    return m


def run(args: argparse.Namespace) -> int:
    from charrnn_tui.engine.storage.modelfile import read_meta
    from charrnn_tui.resources import open_store

    store = open_store(args.home)
    action = args.action or "list"
    if action == "list":
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        table = Table("name", "model", "params", "corpus", "val loss", "best", "steps",
                      "updated", box=None)
        for info in store.list():  # names, corpora and dates come from files: escaped
            if info.error:
                table.add_row(escape(info.name), f"[red]unreadable: {escape(info.error)}",
                              "", "", "", "", "", "")
                continue
            table.add_row(escape(info.name) + (" (built-in)" if info.read_only else ""),
                          escape(info.describe), f"{info.params:,}", escape(info.corpus),
                          "" if info.val_loss is None else f"{info.val_loss:.4f}",
                          "" if info.best_val is None else f"{info.best_val:.4f}",
                          str(info.steps), escape(info.updated))
        width = None if sys.stdout.isatty() else 200  # piped: don't cut names at 80
        Console(width=width).print(table if table.row_count else "no saved models yet")
    elif action == "show":
        meta = read_meta(store.resolve(args.name))
        meta.pop("checksum", None)
        meta["spec"] = meta["spec"].to_dict()
        meta["spec"]["vocab"] = "".join(meta["spec"]["vocab"])
        for key in ("history", "val_history"):
            meta["state"][key] = f"{len(meta['state'].get(key, []))} points"
        # the epoch under way, counted from 1 as the app and train's progress line count it
        # (the file keeps the epochs completed)
        meta["state"]["epoch"] = meta["state"].get("epoch", 0) + 1
        print(json.dumps(meta, indent=2, ensure_ascii=False))
    elif action == "rm":
        store.remove(args.name)
        print(f"deleted {args.name}")
    elif action == "rename":
        store.rename(args.old, args.new)
        print(f"renamed {args.old} to {args.new}")
    elif action == "export":
        dest = store.export(args.name, Path(args.path), force=args.force,
                            weights_only=args.weights_only)
        print(f"exported to {dest}")
    elif action == "import":
        print(f"imported as {store.import_file(Path(args.path), args.name)}")
    elif action == "compare":
        from charrnn_tui.cli.models_compare import compare

        return compare(store, args)
    return 0
