"""Build docs/results.md (and the README's results table) from the records in bench/results/.

    python bench/report.py            # rewrite docs/results.md and the README's table
    python bench/report.py --check    # exit 1 if either differs from what the records give
    python bench/report.py --plot docs/images/quality.png   # the `bench` extra (matplotlib)

A record is one JSON file, written by a benchmark's `--save QUESTION` or transcribed from
earlier notes; nothing here measures anything or imports torch, so it runs in a second.
Records are never edited: a newer run of the same thing adds a row, and the older row stays,
labelled "earlier".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "bench" / "results"
RESULTS_MD = ROOT / "docs" / "results.md"
README = ROOT / "README.md"
BEGIN, END = "<!-- results table: built by bench/report.py -->", "<!-- end of results table -->"

# One table per question, in this order: (key, title, what the table answers)
QUESTIONS = [
    ("presets", "Presets: validation loss at their budgets",
     "Tiny Shakespeare split 90/10; validation loss in nats per character, `stream` over the "
     "whole split with carried state, `window-256` as nanoGPT scores (see "
     "[training.md](training.md#evaluation-protocols)). Seeds are separated by ` / `.\n\n"
     "![Validation loss of the presets at their budgets](images/quality.png)\n\n"
     "The picture is drawn from these records by `python bench/report.py --plot "
     "docs/images/quality.png` (the `bench` extra). The transcribed records hold each run's "
     "end point only, so it shows end points; the curves of *the plot's run* are in "
     "[an earlier picture](../bench/quality-120s.png), drawn by `bench/quality.py --plot` "
     "from that run's output before records were kept."),
    ("anytime", "Open-ended runs against budgeted ones and a plain loop",
     "Validation loss (stream, nats per character) on the corpus's last tenth. `at N s`: "
     "for an open-ended run (`auto`), what stopping it after N s of training keeps (its best "
     "evaluation so far, or the weights then if better); for a budgeted preset, its final "
     "weights at that budget; for the plain loop (`bench/baseline.py`), its weights then. "
     "Seeds are separated by ` / `."),
    ("baseline", "Against the published min-char-rnn loop",
     "Validation loss (stream) of the numpy implementation with its defaults and of "
     "Karpathy's min-char-rnn loop as published, given the same wall clock."),
    ("shipped", "The shipped model",
     "`assets/shakespeare.safetensors` on its validation split and on text it never saw."),
    ("throughput", "Training speed against a plain PyTorch LSTM", ""),
    ("generation", "Generation speed",
     "The shipped 2×256 LSTM; what bounds these is in [generation.md](generation.md#speed)."),
    ("app", "The app", "Key latency and training speed inside the terminal app."),
    ("busy", "On a busy computer",
     "The engine's thread policy against torch's default (see "
     "[training.md](training.md#threads-on-a-busy-computer))."),
    ("memory", "Memory", ""),
    ("startup", "Start-up",
     "Each command and the app's first screen as a multiple (×) of `python -c \"import "
     "torch\"` in the same run, best of the repeats (`bench/startup.py`)."),
    ("distributed", "Several processes", "See [distributed.md](distributed.md)."),
    ("gradflow", "What the gradient-flow diagnostic costs",
     "`time share`: the fraction of each 30 s run spent inside the passes at the default "
     "5 s cadence."),
    ("race", "A one-minute race of the cells", "1×128 torch cells, fp32."),
]

HEADERS = {"val_stream": "stream", "val_window256": "window-256", "chars_per_s": "chars/s"}

# The README's table: (record file stem, row label, figures shown)
SEEDS = "seeds 1 / 2 / 3"
README_ROWS = [
    ("0-transcribed-01-quick-16x50-fp32", f"`quick` preset, 120 s, fp32, {SEEDS}", "val_stream"),
    ("0-transcribed-03-quick-16x50-bf16", f"`quick` preset, 120 s, bf16, {SEEDS}", "val_stream"),
    ("0-transcribed-11-balanced-16x50-fp32", f"`balanced` preset, 600 s, fp32, {SEEDS}",
     "val_stream"),
    ("0-transcribed-24-plot-baseline", "a plain PyTorch 2×256 LSTM, 120 s, fp32", "val_stream"),
    ("0-transcribed-35-gen-sampler", "generation, one stream (chars/s)", "chars/s"),
    ("0-transcribed-36-gen-n8", "generation, 8 streams at once (chars/s)", "chars/s"),
]


def load_records(folder: Path = RECORDS) -> list[tuple[str, dict]]:
    """(file stem, record) in file-name order: transcribed first, then by time saved."""
    return [(p.stem, json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(folder.glob("*.json"))]


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return " / ".join(_cell(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def figures(record: dict) -> list[dict]:
    """The rows one record gives: its transcribed figures, or, for a measured record, the
    result's plain values (a quality run's seeds joined as ` / `, one row per run)."""
    if "figures" in record:
        return [dict(record["figures"])]
    result = record.get("result", {})
    skip = {"bench", "torch", "threads", "cpus", "curve", "params", "reads", "auto",
            "machine"}
    plain = {k: v for k, v in result.items()
             if k not in skip and isinstance(v, (int, float, str)) and not isinstance(v, bool)}
    runs = result.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        return [plain]
    rows: dict[str, list[dict]] = {}
    for run in runs:
        rows.setdefault(str(run.get("run", "")), []).append(run)
    out = []
    for name, group in rows.items():
        keys = [k for k in group[0] if k not in skip | {"run"}]
        out.append({"run": name} | {k: " / ".join(_cell(r.get(k)) for r in group) for k in keys})
    return out


def machine_label(machine: dict) -> str:
    if machine.get("name"):
        return machine["name"]
    flags = ", ".join(machine.get("flags") or []) or "no AVX2"
    return (f"{machine.get('cores')}-core {machine.get('cpu')} ({flags}), "
            f"torch {machine.get('torch')}")


def _busy(machine: dict) -> str:
    busy = machine.get("busy")
    if busy in (0, None):
        return "quiet" if busy == 0 else "–"
    return f"{busy} busy" if isinstance(busy, int) else str(busy)


def build(records: list[tuple[str, dict]]) -> str:
    machines: list[str] = []
    for _, r in records:
        if (label := machine_label(r["machine"])) not in machines:
            machines.append(label)
    latest: dict[tuple, str] = {}
    for stem, r in records:
        latest[(r["question"], r["what"], machine_label(r["machine"]))] = stem
    known = {q for q, *_ in QUESTIONS}
    unknown = sorted({r["question"] for _, r in records} - known)
    if unknown:
        raise SystemExit(f"records name questions report.py does not know: {unknown}")

    lines = ["# Results", "",
             "Built by `python bench/report.py` from the records in `bench/results/`; do not "
             "edit by hand (a test compares the two). A benchmark run with `--save QUESTION` "
             "adds a record; older records stay, and a row measured again is labelled "
             "*earlier*. Rows marked *transcribed* were converted from the project's earlier "
             "notes: their date is the day the figure was first written down, and they lack "
             "whatever those notes did not say (a torch version, a load average).", "",
             "What a label means: *earlier shape* is a preset before its batch became 16 × 50, "
             "*lost* and *rejected* are options tried and not kept, *a variant* is an option "
             "tried once. Why each was tried is in [notes/tuning.md](notes/tuning.md).", "",
             "## Machines", ""]
    lines += [f"- **M{i}**: {m}" for i, m in enumerate(machines, 1)]
    for key, title, intro in QUESTIONS:
        rows = [(stem, r) for stem, r in records if r["question"] == key]
        if not rows:
            continue
        lines += ["", f"## {title}", ""] + ([intro, ""] if intro else [])
        table = [(stem, r, f) for stem, r in rows for f in figures(r)]
        cols: list[str] = []
        for *_, f in table:
            cols += [k for k in f if k not in cols]
        head = ["what", *(HEADERS.get(c, c) for c in cols),
                "machine", "beside it", "date", "command"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for stem, r, f in table:
            m = machine_label(r["machine"])
            labels = [r.get("label")] if r.get("label") else []
            if latest[(r["question"], r["what"], m)] != stem:
                labels.append("earlier")
            if r.get("source") == "transcribed":
                labels.append("transcribed")
            what = r["what"] + (f" ({f['run']})" if "run" in f else "")
            what += "".join(f" *{x}*" for x in labels)
            if r.get("note"):
                what += f"; {r['note']}"
            cells = [_cell(what), *(_cell(f.get(c)) for c in cols),
                     f"M{machines.index(m) + 1}", _cell(_busy(r["machine"])), r["date"],
                     f"`{r['command']}`" if "`" not in r["command"] else _cell(r["command"])]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def readme_table(records: list[tuple[str, dict]]) -> str:
    """The README's small table: each figure taken from the record named in README_ROWS."""
    by_stem = dict(records)
    lines = [BEGIN, "", "| what | result | machine | command |", "|---|---|---|---|"]
    for stem, label, key in README_ROWS:
        r = by_stem[stem]
        value = figures(r)[0][key]
        where = machine_label(r["machine"])
        if _busy(r["machine"]) != "quiet":
            where += f"; beside it: {_busy(r['machine'])}"
        lines.append(f"| {label} | **{_cell(value)}** | {_cell(where)} "
                     f"| `{r['command']}` |")
    return "\n".join(lines + ["", END])


def with_readme_table(readme: str, table: str) -> str:
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    return readme[:start] + table + readme[end:]


def plot(records: list[tuple[str, dict]], path: str) -> None:
    """Validation loss (stream) at the end of each current preset record's budget: a dot per
    seed, the mean marked. The transcribed records hold end points, not a run's curve, so
    that is what can be drawn from them; a measured quality record adds its curves."""
    import matplotlib  # the `bench` extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for n, (_, r) in enumerate(records):
        if r["question"] != "presets" or r.get("label") or r.get("source") != "transcribed":
            continue
        budget = re.search(r"--budget (\d+)", r["command"])
        f = figures(r)[0]
        losses = [float(x) for x in re.findall(r"\d+\.\d+", str(f.get("val_stream", "")))]
        if budget and losses:
            x = float(budget.group(1)) * (1 + 0.04 * (n % 5 - 2))  # side by side, not on top
            bf16 = f.get("precision") == "bf16"
            line = ax.plot([x] * len(losses), losses, "o" if bf16 else "s", alpha=0.5)[0]
            ax.plot([x], [sum(losses) / len(losses)], "_", ms=14, color=line.get_color(),
                    label=f"{r['what']}, {f.get('precision')}")
    for stem, r in records:
        for run in r.get("result", {}).get("runs", []) if r["question"] == "presets" else []:
            pts = [(t, v) for t, v in run.get("curve", []) if v is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=f"{run['run']} seed {run['seed']} ({stem})")
    ax.set_xscale("log")
    ax.set_xticks([30, 120, 600], ["30", "120", "600"])
    ax.minorticks_off()
    ax.set_xlabel("seconds of training (the preset's budget)")
    ax.set_ylabel("validation loss, nats/char (stream)")
    ax.set_title("The presets at their budgets (records in bench/results/)", fontsize=10)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="exit 1 if docs/results.md or the README's table is out of date")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the presets' losses")
    args = p.parse_args()
    records = load_records()
    doc = build(records)
    readme = with_readme_table(README.read_text(encoding="utf-8"), readme_table(records))
    if args.check:
        stale = [str(f.relative_to(ROOT)) for f, text in ((RESULTS_MD, doc), (README, readme))
                 if f.read_text(encoding="utf-8") != text]
        if stale:
            print(f"out of date: {', '.join(stale)}; run python bench/report.py",
                  file=sys.stderr)
        return 1 if stale else 0
    RESULTS_MD.parent.mkdir(exist_ok=True)
    RESULTS_MD.write_text(doc, encoding="utf-8")
    README.write_text(readme, encoding="utf-8")
    if args.plot:
        plot(records, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
