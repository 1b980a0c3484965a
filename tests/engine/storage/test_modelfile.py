"""Model files: round trips, optimizer state, every refusal check, and crash-safe saving."""

from __future__ import annotations

import json
import math
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from helpers import FOLDER, kit
from helpers.pickle_bomb import raw_pickle, torch_zip

from charrnn_tui.engine.models import build_model, restore_model
from charrnn_tui.engine.storage import modelfile
from charrnn_tui.engine.storage.checksum import KEY as CHECKSUM_KEY
from charrnn_tui.engine.storage.checksum import tensor_digest
from charrnn_tui.engine.storage.modelfile import FORMAT_VERSION, ModelFileError
from charrnn_tui.engine.storage.store import ModelStore
from charrnn_tui.engine.training.events import Progress
from charrnn_tui.engine.training.trainer import Trainer

# --- helpers --------------------------------------------------------------------------------

def _good_file(tmp_path: Path, kind: str = "torch") -> Path:
    path = tmp_path / "good.safetensors"
    modelfile.save(path, kit.checkpoint(kind))
    return path


def _parts(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def _write(path: Path, header: dict, body: bytes) -> Path:
    hb = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + body)
    return path


def _rewrite(src: Path, dst: Path, *, meta=None, tensors=None) -> Path:
    """Re-save `src` with metadata/tensors changed by the given functions."""
    tensors_now = safetensors.torch.load_file(str(src))
    _, header_meta = modelfile.read_header(src)
    header_meta = dict(header_meta)
    if meta:
        meta(header_meta)
    if tensors:  # a crafted file can carry a matching checksum: each test checks one thing
        tensors(tensors_now)
        header_meta[CHECKSUM_KEY] = tensor_digest(tensors_now)
    raw = safetensors.torch.save(tensors_now, metadata=header_meta)
    if raw[0] == 0x80:  # keep clear of the 0x80-length bug so each test checks one thing
        header_meta["pad"] = "x" * 8
        raw = safetensors.torch.save(tensors_now, metadata=header_meta)
    dst.write_bytes(raw)
    return dst


def _refused(path: Path, *needles: str) -> str:
    with pytest.raises(ModelFileError) as err:
        modelfile.load(path)
    msg = str(err.value)
    assert path.name in msg
    for n in needles:
        assert n in msg, msg
    return msg


# --- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(kit.SPECS))
def test_round_trip_gives_identical_logits(tmp_path, kind):
    ckpt = kit.checkpoint(kind, seed=11)
    ckpt.state.step = 42
    ckpt.config = {"batch": 4, "lr": 0.01}
    ckpt.corpus = {"name": "tiny.txt", "source": "/x/tiny.txt", "sha256": "ab" * 32}
    path = tmp_path / f"{kind}.safetensors"
    modelfile.save(path, ckpt)
    loaded, meta = modelfile.load(path)
    assert loaded.spec == ckpt.spec
    assert loaded.state.step == 42 and loaded.config == ckpt.config
    assert loaded.corpus == ckpt.corpus
    assert meta["versions"]["torch"] == torch.__version__ and meta["created"]
    assert set(loaded.tensors) == set(ckpt.tensors)
    assert all(torch.equal(loaded.tensors[k], ckpt.tensors[k]) for k in ckpt.tensors)
    original = build_model(ckpt.spec, 11)
    ids = [kit.ALPHABET.index(c) for c in "the cat sat"]
    a, b = kit.logits_of(original, ids), kit.logits_of(restore_model(loaded), ids)
    if kind == "numpy":  # trains in float64, stored as float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(a, b)
    # a second save of the reloaded model is bit-for-bit the same tensors
    again = tmp_path / "again.safetensors"
    modelfile.save(again, loaded)
    reloaded = modelfile.load(again)[0]
    assert all(torch.equal(reloaded.tensors[k], loaded.tensors[k]) for k in loaded.tensors)


def test_unicode_vocab_and_corpus_survive(tmp_path):
    vocab = sorted(set("héllo wörld ☃ 日本\n\t"))
    ckpt = kit.checkpoint("torch", vocab)
    ckpt.corpus = {"name": "日本.txt"}
    path = tmp_path / "u.safetensors"
    modelfile.save(path, ckpt)
    loaded = modelfile.load(path)[0]
    assert loaded.spec.vocab == vocab and loaded.corpus["name"] == "日本.txt"


@pytest.mark.parametrize("kind", ["torch", "scratch", "numpy"])
def test_optimizer_state_round_trip_resumes_without_a_loss_jump(tmp_path, kind):
    lr = {"torch": 1e-2, "scratch": 5e-2, "numpy": 1e-1}[kind]
    before = kit.trainer(kind, max_steps=100, lr=lr)
    events = []
    before.run(events.append)
    last_loss = [e for e in events if isinstance(e, Progress)][-1].train_loss
    path = tmp_path / "m.safetensors"
    modelfile.save(path, before.checkpoint())
    ckpt, _ = modelfile.load(path)
    assert ckpt.optim_meta["name"] == before.optimizer_name
    assert ckpt.optim_tensors, "no optimizer state was saved"
    corpus = kit.corpus()
    after = Trainer(restore_model(ckpt), corpus.data, kit.config(max_steps=5, lr=lr),
                    state=ckpt.state, optim_tensors=ckpt.optim_tensors,
                    optim_meta=ckpt.optim_meta)
    # the optimizer state is restored exactly
    saved_t, saved_m = before.optimizer_state()
    got_t, got_m = after.optimizer_state()
    assert set(got_t) == set(saved_t)
    assert all(torch.equal(got_t[k], saved_t[k]) for k in saved_t)
    assert got_m == saved_m
    events = []
    after.run(events.append)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[0].step == 101  # the step counter continues
    ln_v = math.log(ckpt.spec.vocab_size)
    assert last_loss < 0.6 * ln_v  # it had learned something worth keeping
    assert progress[0].train_loss < last_loss + 0.25 * (ln_v - last_loss)


def test_mismatched_optimizer_state_is_refused():
    tr = kit.trainer("torch", max_steps=2)
    tr.run()
    tensors, meta = tr.optimizer_state()
    corpus = kit.corpus()
    with pytest.raises(ValueError, match="saved optimizer is 'adam'"):
        Trainer(build_model(tr.spec), corpus.data, kit.config(optimizer="rmsprop"),
                optim_tensors=tensors, optim_meta=meta)
    bad = {k: torch.zeros(3) if k.endswith("exp_avg") else v for k, v in tensors.items()}
    with pytest.raises(ValueError, match="does not fit"):
        Trainer(build_model(tr.spec), corpus.data, kit.config(), optim_tensors=bad,
                optim_meta=meta)


def test_valid_file_whose_header_length_starts_with_0x80_loads(tmp_path):
    """safetensors pads its header to 8 bytes, so 1 file in 32 has a length byte of 0x80."""
    ckpt = kit.checkpoint("torch")
    for i in range(256):
        ckpt.corpus = {"name": "x" * i}
        raw = modelfile.encode(ckpt)
        if raw[0] == 0x80:
            break
    else:
        pytest.fail("no corpus name gave a header length with low byte 0x80")
    path = tmp_path / "unlucky.safetensors"
    modelfile.save(path, ckpt)
    loaded, _ = modelfile.load(path)  # a genuine model file, not a pickle
    assert loaded.corpus == ckpt.corpus


# --- refusals -------------------------------------------------------------------------------

def test_pickle_payloads_are_refused_without_unpickling(tmp_path):
    live = tmp_path / "proof-the-payload-works"
    pickle.loads(raw_pickle(live))
    assert live.exists()  # unpickling it really would create the marker

    marker = tmp_path / "PWNED"
    pt = tmp_path / "model.pt"
    pt.write_bytes(raw_pickle(marker))
    renamed = tmp_path / "renamed.safetensors"
    renamed.write_bytes(raw_pickle(marker))
    zipped = tmp_path / "zipped.pth"
    torch_zip(marker, zipped)
    zipped_renamed = tmp_path / "zipped.safetensors"
    zipped_renamed.write_bytes(zipped.read_bytes())
    for path in (pt, renamed, zipped, zipped_renamed):
        _refused(path, "pickle")
        with pytest.raises(ModelFileError, match="pickle"):
            modelfile.read_meta(path)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelFileError, match="pickle"):
        store.import_file(renamed)
    assert not marker.exists()
    assert store.names() == []


def test_zero_byte_and_tiny_files_are_refused(tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    _refused(empty, "empty or truncated", "size check")
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"\x05\x00\x00")
    _refused(tiny, "size check")


def test_truncated_files_are_refused(tmp_path):
    good = _good_file(tmp_path)
    raw = good.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    in_data = tmp_path / "cut-data.safetensors"
    in_data.write_bytes(raw[: len(raw) - 10])
    _refused(in_data, "truncated")
    in_header = tmp_path / "cut-header.safetensors"
    in_header.write_bytes(raw[: 8 + n // 2])
    _refused(in_header, "header check")


def test_header_length_past_the_end_is_refused(tmp_path):
    path = tmp_path / "long.safetensors"
    path.write_bytes(struct.pack("<Q", 10**6) + b'{"__metadata__": {}}')
    msg = _refused(path, "header length 1000000", "header check")
    assert "exceeds the file size" in msg
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    _refused(huge, "header check")


def test_header_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "nojson.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b"not json!!")
    _refused(path, "header is not JSON", "header check")
    arr = tmp_path / "array.safetensors"
    arr.write_bytes(struct.pack("<Q", 2) + b"[]")
    _refused(arr, "header check")


def test_metadata_that_is_not_json_is_refused(tmp_path):
    good = _good_file(tmp_path)
    bad = _rewrite(good, tmp_path / "meta.safetensors",
                   meta=lambda m: m.__setitem__("spec", "{not json"))
    _refused(bad, "'spec' is not JSON", "metadata check")
    missing = _rewrite(good, tmp_path / "nometa.safetensors",
                       meta=lambda m: m.pop("state"))
    _refused(missing, "lacks 'state'", "metadata check")


def test_not_our_format_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    path.write_bytes(safetensors.torch.save({"w": torch.zeros(2)}))
    _refused(path, "not a charrnn-tui model", "format check")


def test_future_format_version_is_refused(tmp_path):
    good = _good_file(tmp_path)
    future = _rewrite(good, tmp_path / "future.safetensors",
                      meta=lambda m: m.__setitem__("format_version", str(FORMAT_VERSION + 1)))
    _refused(future, f"format version {FORMAT_VERSION + 1} is newer", "version check")
    garbled = _rewrite(good, tmp_path / "garbled.safetensors",
                       meta=lambda m: m.__setitem__("format_version", "one"))
    _refused(garbled, "version check")


def test_wrong_tensor_shape_is_refused(tmp_path):
    good = _good_file(tmp_path)
    bad = _rewrite(good, tmp_path / "shape.safetensors",
                   tensors=lambda t: t.__setitem__("model.rnn.weight_hh_l0",
                                                   torch.zeros(64, 15)))
    _refused(bad, "'rnn.weight_hh_l0' has shape (64, 15), expected (64, 16)", "shape check")


def test_vocab_not_matching_the_embedding_is_refused(tmp_path):
    good = _good_file(tmp_path)

    def grow_vocab(m):
        spec = json.loads(m["spec"])
        spec["vocab"] = spec["vocab"] + ["Z"]
        m["spec"] = json.dumps(spec)

    bad = _rewrite(good, tmp_path / "vocab.safetensors", meta=grow_vocab)
    v = len(kit.ALPHABET)
    _refused(bad, "'embed.weight'", f"expected ({v + 1}, 8)",
             f"the vocabulary has {v + 1} characters", "shape check")


def test_nan_and_inf_weights_are_refused(tmp_path):
    good = _good_file(tmp_path)

    def poison(value):
        def f(t):
            t["model.head.bias"][3] = value
        return f

    _refused(_rewrite(good, tmp_path / "nan.safetensors", tensors=poison(float("nan"))),
             "'model.head.bias' holds NaN or Inf", "finiteness check")
    _refused(_rewrite(good, tmp_path / "inf.safetensors", tensors=poison(float("inf"))),
             "finiteness check")


def test_unexpected_and_missing_tensors_are_refused(tmp_path):
    good = _good_file(tmp_path)
    extra = _rewrite(good, tmp_path / "extra.safetensors",
                     tensors=lambda t: t.__setitem__("model.backdoor", torch.zeros(2)))
    _refused(extra, "unexpected tensor 'backdoor'", "tensor names check")
    stray = _rewrite(good, tmp_path / "stray.safetensors",
                     tensors=lambda t: t.__setitem__("payload", torch.zeros(2)))
    _refused(stray, "unexpected tensor 'payload'", "tensor names check")
    missing = _rewrite(good, tmp_path / "missing.safetensors",
                       tensors=lambda t: t.pop("model.head.bias"))
    _refused(missing, "missing tensor 'head.bias'", "tensor names check")


def test_bad_spec_is_refused(tmp_path):
    good = _good_file(tmp_path)

    def spec_with(**over):
        def f(m):
            m["spec"] = json.dumps(json.loads(m["spec"]) | over)
        return f

    _refused(_rewrite(good, tmp_path / "cell.safetensors", meta=spec_with(cell="transformer")),
             "cell must be", "spec check")
    _refused(_rewrite(good, tmp_path / "v.safetensors", meta=spec_with(vocab=["a", "a"])),
             "spec check")


def test_tensor_entry_with_bad_offsets_or_dtype_is_refused(tmp_path):
    header, body = _parts(_good_file(tmp_path))
    header["model.head.bias"]["dtype"] = "PICKLE"
    _refused(_write(tmp_path / "dtype.safetensors", header, body), "'model.head.bias'")
    header, body = _parts(_good_file(tmp_path))
    header["model.head.bias"]["data_offsets"] = [0, len(body) + 100]
    _refused(_write(tmp_path / "off.safetensors", header, body), "past the end")


# Hand-made headers that a hostile or broken writer could produce. Every one must be a
# ModelFileError naming a check, never a raw KeyError/TypeError/AttributeError.

def test_tensor_entry_without_a_shape_is_a_model_file_error(tmp_path):
    header, body = _parts(_good_file(tmp_path))
    del header["model.head.bias"]["shape"]
    _refused(_write(tmp_path / "noshape.safetensors", header, body), "head.bias")
    header, body = _parts(_good_file(tmp_path))
    header["model.head.bias"]["shape"] = 7
    _refused(_write(tmp_path / "intshape.safetensors", header, body), "head.bias")


def test_metadata_that_is_not_an_object_is_a_model_file_error(tmp_path):
    header, body = _parts(_good_file(tmp_path))
    header["__metadata__"] = ["not", "an", "object"]
    path = _write(tmp_path / "metalist.safetensors", header, body)
    with pytest.raises(ModelFileError, match="check"):
        modelfile.read_meta(path)


def test_spec_with_non_integer_sizes_is_a_model_file_error(tmp_path):
    good = _good_file(tmp_path)

    def f(m):
        m["spec"] = json.dumps(json.loads(m["spec"]) | {"hidden": 16.5})

    _refused(_rewrite(good, tmp_path / "float.safetensors", meta=f), "spec check")


# --- atomic saving --------------------------------------------------------------------------

def test_write_atomic_leaves_no_temp_file_and_keeps_old_on_failure(tmp_path):
    path = tmp_path / "sub" / "f.bin"
    modelfile.write_atomic(path, b"old")
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]

    with pytest.raises(TypeError):
        modelfile.write_atomic(path, object())  # fails mid-write
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["f.bin"]


def test_sigkill_during_saves_never_leaves_a_broken_model(tmp_path):
    root = tmp_path / "models"
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen([sys.executable, str(FOLDER / "save_loop.py"), str(root)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    rng = random.Random(1234)
    last = root / "m" / "last.safetensors"
    seen_steps = []
    try:
        assert proc.stdout.readline().strip() == "ready"
        for round_no in range(1, 21):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            word, pid = proc.stdout.readline().split()
            assert word == "pid"
            time.sleep(rng.uniform(0.02, 0.25))
            os.kill(int(pid), signal.SIGKILL)
            dead = proc.stdout.readline().split()
            assert dead[:2] == ["dead", pid]
            ckpt, meta = modelfile.load(last)  # the previous or the latest save, whole
            step = ckpt.state.step
            assert step == 0 or step // 100_000 <= round_no
            assert torch.all(ckpt.tensors["head.bias"] == float(step)), "a mixed file"
            seen_steps.append(step)
            ModelStore(root)  # a new store sweeps temp files of dead savers
            assert list(root.glob("*/.*.tmp-*")) == []
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert seen_steps == sorted(seen_steps)
    assert max(seen_steps) > 100_000  # saves really happened while we were killing


def test_temp_files_of_live_processes_are_kept(tmp_path):
    root = tmp_path / "models"
    (root / "m").mkdir(parents=True)
    mine = root / "m" / f".last.safetensors.abc123.tmp-{os.getpid()}"
    mine.write_bytes(b"in progress")
    dead_proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                               capture_output=True, text=True, check=True)
    dead = root / "m" / f".last.safetensors.zz.tmp-{dead_proc.stdout.strip()}"
    dead.write_bytes(b"abandoned")
    odd = root / "m" / ".notes.tmp-x"
    odd.write_bytes(b"not ours")
    store = ModelStore(root)
    assert mine.exists() and odd.exists()
    assert not dead.exists()
    assert store.clean_stale_temp_files() == 0


def test_a_save_that_replaces_the_file_mid_load_cannot_mix_two_files(tmp_path, monkeypatch):
    """An autosave renamed over the file between reading its header and its data used to
    pair one file's header with the other's tensors: a false "checksum" refusal."""
    path = tmp_path / "m.safetensors"
    first, second = kit.checkpoint("torch-lstm", seed=1), kit.checkpoint("torch-lstm", seed=2)
    modelfile.save(path, first)
    header_of = modelfile._header_of

    def replaced_meanwhile(f, size, where):
        got = header_of(f, size, where)
        modelfile.save(path, second)  # atomic: a new file renamed over the old name
        return got

    monkeypatch.setattr(modelfile, "_header_of", replaced_meanwhile)
    ckpt, _ = modelfile.load(path)
    for name, t in first.tensors.items():
        assert torch.equal(ckpt.tensors[name], t), "the load read the file it opened"
