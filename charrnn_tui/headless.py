"""The headless commands behind the CLI: train, sample, eval and models."""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from charrnn_tui.engine.analysis.entropy import LN2
from charrnn_tui.engine.checkpoint import Checkpoint
from charrnn_tui.engine.data.corpus import Corpus
from charrnn_tui.engine.data.sources import canonical, load_corpus, source_of
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams, unknown_chars
from charrnn_tui.engine.generation.search import beam_search, rank, sample_n
from charrnn_tui.engine.models import ModelSpec, build_model, count_parameters, restore_model
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.modelfile import read_meta
from charrnn_tui.engine.storage.store import ModelStore, check_name
from charrnn_tui.engine.threads import ThreadTuner, training_tuner, use_threads
from charrnn_tui.engine.training import elastic
from charrnn_tui.engine.training.config import TrainConfig
from charrnn_tui.engine.training.distributed import (
    World,
    init_from_env,
    launched_by_torchrun,
    shutdown,
)
from charrnn_tui.engine.training.evaluate import SHIFTS, cross_entropy
from charrnn_tui.engine.training.events import Evaluated, Event, Finished, Notice, Progress
from charrnn_tui.engine.training.presets import DEFAULT_PRESET, IMPL_DEFAULTS, PRESETS
from charrnn_tui.engine.training.resume import resume_trainer
from charrnn_tui.engine.training.trainer import Trainer
from charrnn_tui.names import default_name, free_name
from charrnn_tui.resources import open_store


class UserError(CharRNNError):
    """A refusal of the command line's own; the engine's refusals are CharRNNErrors too."""


_SPEC_ARGS = ("impl", "cell", "layers", "hidden", "embed", "dropout",
              "embed_dropout", "locked_dropout", "weight_dropout")
_TRAIN_ARGS = ("batch", "seq", "lr", "optimizer", "schedule", "epochs", "time_budget",
               "max_steps", "precision", "seed", "eval_every", "ema", "warmup_steps")
_STOPS = ("epochs", "time_budget", "max_steps")


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict:
    return {k: getattr(args, k) for k in names if getattr(args, k) is not None}


def _train_overrides(args: argparse.Namespace) -> dict:
    over = _given(args, _TRAIN_ARGS)
    over["device"] = args.device
    if getattr(args, "save_every", None) is not None:
        over["autosave_every"] = args.save_every
    return over


def _fresh_setup(args: argparse.Namespace, corpus: Corpus) -> tuple[ModelSpec, TrainConfig]:
    preset = PRESETS[args.preset or DEFAULT_PRESET]
    model = dict(preset.model)
    train = dict(preset.train)
    impl = args.impl or model["impl"]
    if impl != model["impl"]:
        train.pop("lr", None)  # the preset's rate suits its own optimizer
        if impl in IMPL_DEFAULTS:
            model |= IMPL_DEFAULTS[impl].model
            train |= IMPL_DEFAULTS[impl].train
    spec = ModelSpec(**(model | _given(args, _SPEC_ARGS) | {"vocab": corpus.chars}))
    over = _train_overrides(args)
    if any(k in over for k in _STOPS):
        for k in _STOPS:
            train.pop(k, None)
    if "optimizer" in over:
        train.pop("lr", None)
    return spec.validate(), TrainConfig(**(train | over))


def load_checked(store: ModelStore, ref: str) -> Checkpoint:
    """A model by name or path, telling the user what the loader noticed (no checksum…);
    the built-ins ship inside the package, so there is nothing to tell about those."""
    path = store.resolve(ref)
    ckpt, meta = modelfile.load(path)
    for notice in [] if path in store.read_only.values() else meta["notices"]:
        print(f"charrnn-tui: {notice}", file=sys.stderr)
    return ckpt


def _recorded_source(ckpt: Checkpoint) -> str:
    """The corpus a model records, used only if it is a built-in or a regular file: the file
    may come from anyone, and its path could name /dev/zero or a FIFO."""
    recorded = ckpt.corpus.get("source")
    if not recorded:
        raise UserError("this model does not record its corpus; give one")
    source = source_of(ckpt.corpus)
    if source is None:
        raise UserError(f"this model's recorded corpus {recorded!r} is not a regular file "
                        "here; give the corpus to train on")
    return source


def _elastic_restart(args, store: ModelStore, world: World) -> str | None:
    """The model this torchrun attempt continues when it restarts a run (else None)."""
    if elastic.run_token() is None:
        return None
    name = args.name or (args.resume or "").partition(":")[0] or None
    if name is None:
        if elastic.max_restarts() > 0:
            raise UserError("under torchrun --max-restarts, give --name: a restart "
                            "continues the model of that name")
        return None
    check_name(name)
    return name if elastic.is_restart(store, name, world, args.device) else None


def _resume_setup(args, store: ModelStore, world: World, restart: str | None = None):
    main = world.is_main
    if args.name is not None:
        check_name(args.name)
    ckpt = load_checked(store, restart or args.resume)
    source = args.corpus or _recorded_source(ckpt)
    corpus = load_corpus(source, encoding=args.encoding, home=args.home)
    known = {f.name for f in fields(TrainConfig)}
    saved = {k: v for k, v in ckpt.config.items() if k in known and k not in _STOPS}
    over = _train_overrides(args)
    if not any(k in over for k in _STOPS):
        over["epochs"] = ckpt.config.get("epochs")
        over["time_budget"] = ckpt.config.get("time_budget")
    config = TrainConfig(**(saved | over))
    resume_name = (restart or args.resume).partition(":")[0]
    name = args.name or resume_name
    if name in store.read_only:
        name = free_name(store, f"{resume_name}-own")
    trainer, notice = resume_trainer(ckpt, corpus, config, corpus_info=corpus.info(source),
                                     policy=args.new_chars, replacement=args.replace_char)
    if notice:
        print(f"charrnn-tui: {notice}", file=sys.stderr)
    news = [elastic.world_notice(ckpt.config.get("world_size"), world, config.batch)]
    if restart:
        origin = ckpt.config.get("run_origin")  # budgets count from the run's start
        trainer.origin = (int(origin[0]), origin[1], origin[2]) if origin else None
        news.insert(0, f"restarted: {name} continues from its autosave at step "
                       f"{ckpt.state.step}")
    for line in filter(None, news if main else []):
        print(f"charrnn-tui: {line}", file=sys.stderr, flush=True)
    if main and name != resume_name:
        store.create(name, force=args.force)
    elif main:  # a restart may start while the attempt it replaces is still exiting
        store.claim(name, wait=30.0 if restart else 0.0)
    trainer.state.best_val = store.best_val(name)  # the bar is the best file's own loss
    return trainer, name


def train(args: argparse.Namespace) -> int:
    store = open_store(args.home)
    world = World()
    if launched_by_torchrun():
        if problem := elastic.shared_store_problem():
            raise UserError(problem)
        world, args.device = init_from_env(args.device)
    tuner = training_tuner(args.threads, distributed=world.active)
    try:
        code = _train(args, store, world, tuner)
    except BaseException:
        shutdown(together=False)  # the other ranks may never get here: no barrier
        raise
    shutdown(together=True)
    return code


def _train(args: argparse.Namespace, store: ModelStore, world: World,
           tuner: ThreadTuner | None) -> int:
    restart = _elastic_restart(args, store, world)
    if args.resume or restart:
        trainer, name = _resume_setup(args, store, world, restart)
    else:
        if not args.corpus:
            raise UserError("give a corpus: a file, a folder, or builtin:NAME")
        if args.name is not None:  # before the corpus loads: a bad name fails at once
            check_name(args.name)
            if store.exists(args.name) and not args.force:
                store.create(args.name)  # raises: the name is taken
        corpus = load_corpus(args.corpus, encoding=args.encoding, home=args.home)
        for notice in corpus.notices:
            print(f"charrnn-tui: {notice}", file=sys.stderr)
        spec, config = _fresh_setup(args, corpus)
        name = args.name or free_name(store, check_name(default_name(
            corpus.name, spec.cell, spec.layers, spec.hidden)))
        source = canonical(args.corpus)
        trainer = Trainer(build_model(spec, config.seed), corpus.data, config,
                          corpus_info=corpus.info(source))
        if world.is_main:  # only rank 0 writes the model; only once training can start
            store.create(name, force=args.force)
    trainer.run_id = elastic.run_token()

    interrupted = False
    save_error: list[Exception] = []  # the last save of `last` failed, with this

    def on_sigint(signum, frame):
        nonlocal interrupted
        interrupted = True
        if world.is_main:
            print("charrnn-tui: stopping at the end of this step and saving…", file=sys.stderr,
                  flush=True)
        trainer.stop(final_eval=False)  # the user asked to stop now: save, don't evaluate
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C is final

    signal.signal(signal.SIGINT, on_sigint)  # Ctrl-C: stop at a chunk boundary, then save
    quiet = args.json or not sys.stdout.isatty()
    report = _PlainReporter() if quiet else _RichReporter(trainer)

    def saver(ckpt: Checkpoint, tag: str) -> None:
        try:
            store.save(ckpt, name, tag)
        except Exception as e:
            if tag == "last":
                save_error[:] = [e]
            raise
        if tag == "last":
            save_error.clear()

    try:
        with report:
            done = trainer.run(report, saver, tuner)
    except KeyboardInterrupt:  # a second Ctrl-C: skip what was running, but still save
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may interrupt this save
        interrupted = True
        done = _emergency_save(trainer, saver) if world.is_main else None
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        store.release(name)
    if not world.is_main:
        return 130 if interrupted else 0
    if save_error:  # never say "saved" when it was not
        print(f"charrnn-tui: training ran, but the model could not be saved: {save_error[0]}",
              file=sys.stderr)
        return 1
    path = store.file(name)
    result = {"model": name, "path": str(path), "reason": "interrupted" if interrupted
              else done.reason, "val_loss": done.val_loss, "val_bpc": done.val_bpc,
              "chars_per_s": round(done.chars_per_s, 1), "steps": done.step,
              "seconds": round(done.seconds, 2), "params": count_parameters(trainer.spec),
              "device": trainer.device.type, "precision": trainer.precision,
              "threads": torch.get_num_threads()}
    if quiet:
        print(json.dumps(result), flush=True)
    else:
        loss = ("no validation loss yet" if done.val_loss is None else
                f"validation loss {done.val_loss:.4f} nats/char ({done.val_bpc:.3f} bpc)")
        print(f"saved {name} ({path}); {loss} after {done.step} steps")
    if interrupted:
        print(f"charrnn-tui: interrupted; the model was saved to {path}", file=sys.stderr)
        return 130
    if done.reason == "diverged":
        print("charrnn-tui: training gave up: the loss stayed non-finite after repeated "
              f"rollbacks; the last good weights were saved to {path}", file=sys.stderr)
        return 1
    return 0


def _emergency_save(trainer: Trainer, saver) -> Finished:
    """Save `last` after a second Ctrl-C; a failure is recorded by `saver`."""
    print("charrnn-tui: stopping now and saving…", file=sys.stderr, flush=True)
    try:
        saver(trainer.checkpoint(), "last")
    except Exception:  # noqa: S110 - the caller reports the recorded failure
        pass
    st = trainer.state
    bpc = None if st.last_val is None else st.last_val / LN2
    return Finished("interrupted", st.step, st.last_val, bpc, 0.0, 0.0)


class _PlainReporter:
    """Non-terminal output: evaluations and notices as lines on stderr."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Evaluated):
            print(f"step {event.step}: val {event.val_loss:.4f} nats/char", file=sys.stderr)
        elif isinstance(event, Notice):
            print(f"charrnn-tui: {event.message}", file=sys.stderr)


class _RichReporter:
    """A live progress line for a terminal."""

    def __init__(self, trainer: Trainer):
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[info]}"), TimeElapsedColumn())
        cfg = trainer.config
        self.total = cfg.time_budget or cfg.epochs or cfg.max_steps
        self.task = self.progress.add_task("training", total=self.total, info="starting…")
        self.val = "–"
        self.budget = cfg.time_budget
        self.epochs = cfg.epochs
        self.start = None

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            if self.start is None:
                self.start = (event.elapsed, event.epoch + event.chunk / event.chunks,
                              event.step)
            done = (event.elapsed - self.start[0] if self.budget else
                    event.epoch + event.chunk / event.chunks - self.start[1] if self.epochs
                    else event.step - self.start[2])
            epoch = event.epoch + 1  # counted from 1, as the app does
            info = (f"step {event.step} · epoch {epoch} chunk {event.chunk}/{event.chunks}"
                    f" · loss {event.train_loss:.3f} · val {self.val} · "
                    f"{event.chars_per_s / 1000:.1f}k chars/s · {event.device}/{event.precision}")
            self.progress.update(self.task, completed=done, info=info)
        elif isinstance(event, Evaluated):
            self.val = f"{event.val_loss:.3f}"
        elif isinstance(event, Notice):
            self.progress.console.print(f"[yellow]{event.message}")
        elif isinstance(event, Finished) and self.total:
            self.progress.update(self.task, completed=self.total)


def sample(args: argparse.Namespace) -> int:
    use_threads("generate", args.threads)
    for flag, dest in (("--html", args.html), ("--svg", args.svg)):
        if dest:
            _check_writable(flag, dest)  # before generating, not after
    params = SamplingParams(args.temperature, args.top_k, args.top_p, args.argmax,
                            tuple(args.stop), args.ban, dict(args.bias),
                            args.repetition_penalty, args.repetition_window).validate()
    if args.length < 1:
        raise UserError(f"length must be at least 1, not {args.length}")
    if args.seed_file:
        args.seed_text = _read_seed(Path(args.seed_file))
    ckpt = load_checked(open_store(args.home), args.model)
    sampler = Sampler(restore_model(ckpt), ckpt.spec.vocab, rng_seed=args.rng_seed,
                      params=params)
    skipped = sampler.prime(args.seed_text)
    if skipped:
        print(f"charrnn-tui: seed characters the model never saw were skipped: "
              f"{' '.join(map(repr, skipped))}", file=sys.stderr)
    view = _parse_view(args.neuron, ckpt.spec)
    if args.n > 1 or args.beam or args.json:
        return _sample_candidates(sampler, args)
    out = sys.stdout
    out.write(args.seed_text)
    generated = []
    for ch in sampler.stream(args.length):
        out.write(ch)
        out.flush()
        generated.append(ch)
    out.write("\n")
    out.flush()
    if args.html or args.svg:
        _export_view(sampler, args.seed_text + "".join(generated), view, args)
    return 0


def _read_seed(path: Path, limit: int = 1 << 20) -> str:
    """A seed file's text: a regular file, UTF-8, at most `limit` bytes."""
    try:
        if not path.is_file():
            raise UserError(f"{path}: not a regular file")
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise UserError(f"{path}: {e.strerror or e}") from None
    if len(data) > limit:
        raise UserError(f"{path}: a seed file may hold at most {limit:,} bytes")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _sample_candidates(sampler: Sampler, args: argparse.Namespace) -> int:
    """Several samples or a beam search, printed together once they are all done."""
    if args.beam:
        found = beam_search(sampler, args.seed_text, args.beam, args.length)
    else:
        found = rank(sample_n(sampler, args.seed_text, args.n, args.length,
                              rng_seed=args.rng_seed), args.rank)
    if args.json:
        print(json.dumps({"seed_text": args.seed_text, "method": "beam" if args.beam else
                          "sample", "samples": [
                              {"text": c.text, "logprob": round(c.logprob, 4),
                               "mean_logprob": round(c.mean_logprob, 4),
                               "surprise": [round(x, 4) for x in c.surprise]}
                              for c in found]}, ensure_ascii=False))
        return 0
    for i, c in enumerate(found, 1):
        print(f"--- {i} of {len(found)}: log-probability {c.logprob:.2f} "
              f"({c.mean_logprob:.3f} per character)")
        print(args.seed_text + c.text)
    return 0


def _parse_view(neuron: str | None, spec: ModelSpec) -> dict:
    if not neuron:
        return {"view": "confidence"}
    kinds = ("hidden", "cell") if spec.cell == "lstm" else ("hidden",)
    try:
        kind, layer, unit = neuron.split(":")
        view = {"view": "neuron", "kind": kind, "layer": int(layer), "unit": int(unit)}
    except ValueError:
        raise UserError("--neuron takes KIND:LAYER:UNIT, e.g. hidden:0:12 or cell:1:27") from None
    if kind not in kinds or not (0 <= view["layer"] < spec.layers
                                 and 0 <= view["unit"] < spec.hidden):
        raise UserError(f"this model has units {'|'.join(kinds)}:0..{spec.layers - 1}:"
                        f"0..{spec.hidden - 1}")
    return view


def _check_writable(flag: str, dest: str) -> None:
    path = Path(dest).expanduser()
    if path.is_dir():
        raise UserError(f"{flag} {dest}: is a folder; give a file name")
    if not path.absolute().parent.is_dir():
        raise UserError(f"{flag} {dest}: the folder {path.absolute().parent} does not exist")


def _export_view(sampler: Sampler, text: str, view: dict, args: argparse.Namespace) -> None:
    try:
        _write_view(sampler, text, view, args)
    except OSError as e:
        raise UserError(f"could not write {e.filename or 'the file'}: {e.strerror or e}") from None


def _write_view(sampler: Sampler, text: str, view: dict, args: argparse.Namespace) -> None:
    from charrnn_tui.engine.generation.insight import to_html, trace

    tr = trace(sampler.model, sampler.vocab, text)
    title = f"charrnn-tui · {args.model}"
    if args.html:
        Path(args.html).write_text(to_html(tr, title=title, **view), encoding="utf-8")
        print(f"charrnn-tui: wrote {args.html}", file=sys.stderr)
    if args.svg:
        from charrnn_tui.coloured import export_svg

        export_svg(tr, Path(args.svg), title, **view)
        print(f"charrnn-tui: wrote {args.svg}", file=sys.stderr)


def evaluate(args: argparse.Namespace) -> int:
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


def models(args: argparse.Namespace) -> int:
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
        from charrnn_tui.compare_cli import compare

        return compare(store, args)
    return 0
