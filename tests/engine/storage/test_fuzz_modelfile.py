"""Issue 19, item 7: a seeded fuzz of the model-file loader and everything that reads one.

Each of a few hundred mutations of a valid small model file must either be refused with a
message naming the file, or load and then survive `sample`, `eval`, `models list`,
`models show`, `models import` and `train --resume` as the CLI runs them: an exit status
of 0, 1 or 2 with a message, never an uncaught exception, never a hang (an alarm bounds
each case). The counts are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import random
import shutil
import signal

import pytest
import safetensors.torch
from helpers import kit
from helpers.mutate import join, set_field, split, with_meta

from charrnn_tui.cli import main
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.checksum import KEY, tensor_digest
from charrnn_tui.engine.storage.modelfile import ModelFileError

CASES = 300
SECONDS_PER_CASE = 20
HOSTILE = [None, True, False, 0, -1, 1, 2, 2**63, 10**30, 1.5, -0.0, 1e308, float("nan"),
           float("inf"), "", "x", "[/]", "NaN", "adam", [], [1, 2], [[1, 2]], [1.5, "x"], {},
           {"a": 1}, ["a", "b"], ["a", "a"], list("abc"), "a" * 5000]
RAW_TEXT = ["", "x", "{}", "[]", "null", "1", "-1", "0", "2", "1e3", "99999999999", "[/]",
            '{"a":', "[" * 60_000, "{" * 100_000 + "}" * 100_000, '{"a": NaN}', "\udcff"]
SECTIONS = ("spec", "state", "config", "corpus", "optimizer")


class CaseTimeout(BaseException):
    """Raised by the alarm: a case ran past its bound (a hang)."""


def _fields(meta: dict) -> list[str]:
    """Every dotted field path of the sections, down to list items and param groups."""
    paths = []
    for section in SECTIONS:
        obj = json.loads(meta[section])
        for key, value in obj.items():
            paths.append(f"{section}.{key}")
            if isinstance(value, list) and value:
                paths.append(f"{section}.{key}.0")
                if isinstance(value[0], dict):
                    paths += [f"{section}.{key}.0.{k}" for k in value[0]]
        paths.append(f"{section}.unknown_key")
    return paths


def _with_tensors(raw: bytes, change) -> bytes:
    """Changed tensor values, with a matching checksum: a crafted, not a corrupted, file."""
    header, _ = split(raw)
    meta = header["__metadata__"]
    tensors = safetensors.torch.load(raw)
    change(tensors)
    meta[KEY] = tensor_digest(tensors)
    return safetensors.torch.save(tensors, metadata=meta)


def _mutate(raw: bytes, rng: random.Random) -> tuple[str, bytes]:
    header, data = split(raw)
    n = int.from_bytes(raw[:8], "little")
    meta = header["__metadata__"]
    kind = rng.choice(["field", "field", "field", "meta", "section", "header_byte", "length",
                       "truncate", "tensor_entry", "data_byte", "huge", "values"])
    if kind == "field":
        path = rng.choice(_fields(meta))
        value = rng.choice(HOSTILE)
        return f"{path}={str(value)[:20]!r}", set_field(raw, path, value)
    if kind == "meta":
        key = rng.choice(["format", "format_version", "created", "updated", "versions", KEY,
                          *SECTIONS])
        text = rng.choice(RAW_TEXT)
        return f"meta {key}={text[:12]!r}", with_meta(raw, lambda m: m.__setitem__(key, text))
    if kind == "section":
        key = rng.choice(SECTIONS)
        return f"drop {key}", with_meta(raw, lambda m: m.pop(key))
    if kind == "header_byte":
        pos = rng.randrange(8, 8 + n)
        out = bytearray(raw)
        out[pos] = rng.randrange(256)
        return f"header byte {pos}", bytes(out)
    if kind == "length":
        value = rng.choice([0, 1, n - 1, n + 1, len(raw), 2**63, 2**64 - 1, 0x80])
        return f"length {value}", value.to_bytes(8, "little") + raw[8:]
    if kind == "truncate":
        cut = rng.randrange(len(raw))
        return f"truncate {cut}", raw[:cut]
    if kind == "tensor_entry":
        name = rng.choice([k for k in header if k != "__metadata__"])
        entry = header[name]
        field = rng.choice(["dtype", "shape", "data_offsets"])
        entry[field] = rng.choice({
            "dtype": ["F16", "I64", "BOOL", "U8", "X", 5, None, "F64"],
            "shape": [[], [0], [10**30], [-1], "x", entry["shape"] + [1], [2**62, 2**62]],
            "data_offsets": [[0, 0], [0, 10**30], [-8, 0], [5, 3], "x", [0]],
        }[field])
        return f"tensor {name}.{field}={entry[field]!r}"[:80], join(header, data)
    if kind == "data_byte":
        out = bytearray(raw)
        out[rng.randrange(8 + n, len(raw))] ^= 0xFF
        return "data byte", bytes(out)
    if kind == "huge":
        what = rng.choice(["vocab", "history", "extra", "hidden"])
        if what == "vocab":
            return "vocab 70000", set_field(raw, "spec.vocab",
                                            [chr(0x4E00 + i) for i in range(70_000)])
        if what == "history":
            return "history 20000", set_field(raw, "state.history", [[1, 2.0]] * 20_000)
        if what == "hidden":
            return "hidden 8192", set_field(raw, "spec.hidden", 8192)
        return "10 MB key", with_meta(raw, lambda m: m.__setitem__("big", "x" * (10 << 20)))
    scale = rng.choice([float("nan"), float("inf"), 3e37, 1e30, 0.0, -1.0])
    return f"values x{scale}", _with_tensors(raw, lambda t: [v.mul_(scale) for k, v in t.items()
                                                            if v.is_floating_point()])


def _run(argv: list[str]) -> int:
    code = main(argv)
    assert code in (0, 1, 2), f"{argv[2:4]} exited {code}"
    return code


@pytest.fixture(scope="module")
def base_raw(tmp_path_factory) -> bytes:
    raw = kit.trained_file_bytes(tmp_path_factory.mktemp("base"), "torch-gru")
    # fixed times and key order (safetensors writes its metadata map in hash order), so
    # the header, and so every mutation, is the same in every run
    raw = set_field(raw, "state.seconds", 1.0)
    raw = with_meta(raw, lambda m: m.update(created="2026-01-01T00:00:00+0000",
                                            updated="2026-01-01T00:00:00+0000"))
    header, data = split(raw)
    return join(json.dumps(header, sort_keys=True), data)


def test_fuzzed_model_files_are_refused_or_work(base_raw, tmp_path, capsys):
    home = tmp_path / "home"
    corpus = kit.write_text(tmp_path / "tiny.txt")
    rng = random.Random(19)
    counts = {"refused": 0, "loaded-and-clean": 0}
    failures: list[str] = []

    def alarm(signum, frame):
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        for i in range(CASES):
            what, raw = _mutate(base_raw, rng)
            path = tmp_path / f"case{i}.safetensors"
            path.write_bytes(raw)
            signal.alarm(SECONDS_PER_CASE)
            try:
                try:
                    modelfile.load(path)
                    loaded = True
                except ModelFileError as e:
                    assert path.name in str(e), str(e)
                    loaded = False
                folder = home / "models" / "fz"
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, folder / "last.safetensors")
                assert _run(["--home", str(home), "models", "list"]) == 0
                shown = _run(["--home", str(home), "models", "show", "fz"])  # metadata only
                assert shown == 0 or (shown == 2 and not loaded)
                assert _run(["--home", str(home), "models", "import", str(path), "--name",
                             "imp"]) == (0 if loaded else 2)
                if loaded:
                    _run(["--home", str(home), "sample", str(path), "--length", "20",
                          "--rng-seed", "1", "--threads", "1"])
                    _run(["--home", str(home), "eval", str(path), str(corpus), "--threads",
                          "1"])
                    _run(["--home", str(home), "train", "--resume", str(path), str(corpus),
                          "--name", "res", "--force", "--max-steps", "2", "--batch", "4",
                          "--seq", "8", "--eval-every", "1000", "--json", "--threads", "1"])
                counts["loaded-and-clean" if loaded else "refused"] += 1
            except (Exception, CaseTimeout) as e:  # noqa: BLE001 - every failure is reported
                failures.append(f"case {i} ({what}): {type(e).__name__}: {e}"[:300])
            finally:
                signal.alarm(0)
                capsys.readouterr()
                for name in ("imp", "res"):
                    shutil.rmtree(home / "models" / name, ignore_errors=True)
                path.unlink()
    finally:
        signal.signal(signal.SIGALRM, previous)
    with capsys.disabled():
        print(f"\nfuzz: {CASES} cases: {counts['refused']} refused, "
              f"{counts['loaded-and-clean']} loaded and clean, {len(failures)} failures")
    assert failures == []
    assert counts["refused"] > CASES // 2 and counts["loaded-and-clean"] > 10
