"""`charrnn-tui sample`: stream generated text to stdout.

Every step runs in numpy on the CPU (engine/models/stepper.py), so the model is read as
arrays and torch is never imported, for the coloured --html/--svg exports too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from charrnn_tui.cli.args import escaped, finite, positive_int, whole
from charrnn_tui.cli.common import UserError, check_writable, load_checked

if TYPE_CHECKING:
    from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
    from charrnn_tui.engine.models import ModelSpec

_positive = finite()


def temperature(text: str) -> float:
    """An argparse type: a temperature above 0; 0 is answered with --argmax."""
    try:
        value = float(text)
    except ValueError:
        value = None
    if value == 0:
        raise argparse.ArgumentTypeError("0 is no temperature: to take the likeliest "
                                         "character every time, use --argmax")
    return _positive(text)


def bias(text: str) -> tuple[str, float]:
    char, sep, value = text.rpartition("=")
    char = escaped(char)
    try:
        number = float(value)
    except ValueError:
        number = None
    if not sep or len(char) != 1 or number is None:
        raise argparse.ArgumentTypeError(f"expected CHAR=NUMBER, e.g. e=-2, not {text!r}")
    return char, number


def add_parser(sub, threads: argparse.ArgumentParser) -> argparse.ArgumentParser:
    s = sub.add_parser("sample", help="stream generated text to stdout", parents=[threads])
    s.add_argument("model", help="saved model name (NAME or NAME:best) or a model file")
    s.add_argument("--seed-text", default="\n", metavar="TEXT",
                   help="text the model reads before it writes")
    s.add_argument("--temperature", type=temperature, default=0.8,
                   help="above 0: lower is safer, higher is wilder")
    s.add_argument("--top-k", type=whole(0), default=0,
                   help="sample only among the K likeliest characters (0: all)")
    s.add_argument("--top-p", type=finite(0.0, 1.0), default=1.0,
                   help="sample only among the likeliest characters whose probabilities add "
                        "up to P, in (0, 1]")
    s.add_argument("--min-p", type=finite(0.0, 1.0, above=False), default=0.0,
                   help="drop characters less likely than P times the likeliest one, in "
                        "[0, 1] (0: off)")
    s.add_argument("--preset", metavar="NAME",
                   help="start from the sampling settings saved under NAME in the app's "
                        "Playground; sampling flags given too (other than their defaults) "
                        "override them")
    s.add_argument("--argmax", action="store_true",
                   help="always take the likeliest character (no randomness)")
    s.add_argument("--length", type=whole(0), default=500, help="characters to generate")
    s.add_argument("--rng-seed", type=int,
                   help="seed for the sampling, for repeatable text (default: a fresh one)")
    s.add_argument("--seed-file", metavar="FILE", help="read the seed text from a file")
    s.add_argument("--stop", action="append", default=[], type=escaped, metavar="TEXT",
                   help="end a sample once it ends with TEXT (repeatable; \\n is a line "
                        "break, e.g. --stop '\\n\\n')")
    s.add_argument("--ban", default="", type=escaped, metavar="CHARS",
                   help="characters never to generate")
    s.add_argument("--bias", action="append", default=[], type=bias, metavar="CHAR=VALUE",
                   help="add VALUE to one character's logit (repeatable; negative: rarer)")
    s.add_argument("--repetition-penalty", type=float, default=1.0, metavar="P",
                   help="a character seen in the last --repetition-window characters is P "
                        "times less likely (1 to 10; default 1: off)")
    s.add_argument("--repetition-window", type=positive_int, default=64, metavar="N",
                   help="characters the repetition penalty looks back (default 64)")
    s.add_argument("--n", type=positive_int, default=1, metavar="N",
                   help="write N independent samples at once, most probable first (default 1)")
    s.add_argument("--beam", type=positive_int, metavar="K",
                   help="beam search of width K instead of sampling: the K most probable "
                        "continuations, best first (--stop, --ban, --bias and "
                        "--repetition-penalty shape the search; temperature, top-k and top-p "
                        "do not apply)")
    s.add_argument("--rank", choices=("total", "mean"), default="total",
                   help="order several samples by total or per-character log-probability")
    s.add_argument("--json", action="store_true",
                   help="print one JSON object: each sample's text, log-probability and "
                        "per-character surprise")
    s.add_argument("--html", metavar="FILE", help="also write the text, coloured, as HTML")
    s.add_argument("--svg", metavar="FILE", help="also write the text, coloured, as SVG")
    s.add_argument("--neuron", metavar="KIND:LAYER:UNIT",
                   help="colour by one unit's activation (e.g. cell:1:27) instead of by "
                        "the model's confidence in each character")
    return s


def _with_preset(home: str | None, name: str, given: SamplingParams) -> SamplingParams:
    """The saved preset `name`, with each setting the flags changed from its default."""
    from dataclasses import fields, replace

    from charrnn_tui.engine.generation.sampler import SamplingParams
    from charrnn_tui.sampling_presets import PresetError, load_presets

    try:
        presets, _ = load_presets(home)
    except PresetError as e:
        raise UserError(str(e)) from None
    if name not in presets:
        saved = ", ".join(repr(n) for n in presets) or "none yet"
        raise UserError(f"no sampling preset {name!r} (saved: {saved}); save one in the "
                        "app's Playground")
    default = SamplingParams()
    return replace(presets[name], **{f.name: getattr(given, f.name) for f in fields(given)
                                     if getattr(given, f.name) != getattr(default, f.name)})


def run(args: argparse.Namespace) -> int:
    from charrnn_tui.engine.generation.sampler import Sampler, SamplingParams
    from charrnn_tui.engine.models import restore_arrays
    from charrnn_tui.engine.threads import use_threads
    from charrnn_tui.resources import open_store

    use_threads("generate", args.threads)
    for flag, dest in (("--html", args.html), ("--svg", args.svg)):
        if dest:
            check_writable(flag, dest)  # before generating, not after
    params = SamplingParams(args.temperature, args.top_k, args.top_p, args.argmax,
                            tuple(args.stop), args.ban, dict(args.bias),
                            args.repetition_penalty, args.repetition_window,
                            args.min_p).validate()
    if args.preset:
        params = _with_preset(args.home, args.preset, params)
    if args.length < 1:
        raise UserError(f"length must be at least 1, not {args.length}")
    if args.seed_file:
        args.seed_text = _read_seed(Path(args.seed_file))
    ckpt = load_checked(open_store(args.home), args.model, arrays=True)
    sampler = Sampler(restore_arrays(ckpt.spec, ckpt.tensors), ckpt.spec.vocab,
                      rng_seed=args.rng_seed, params=params)
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
    from charrnn_tui.engine.generation.search import beam_search, rank, sample_n

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
