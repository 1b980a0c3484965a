"""One model file: safetensors tensors plus JSON metadata, written atomically, read warily.

Nothing here unpickles. Every file is treated as untrusted: the header is parsed by
hand and each check that fails is named in the error.
"""

from __future__ import annotations

import json
import os
import struct
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np
import safetensors

from charrnn_tui.engine.checkpoint import Checkpoint, TrainState
from charrnn_tui.engine.errors import CharRNNError
from charrnn_tui.engine.models import ModelSpec, expected_shapes
from charrnn_tui.engine.storage.atomic import write_atomic
from charrnn_tui.engine.storage.checksum import KEY as CHECKSUM_KEY
from charrnn_tui.engine.storage.checksum import TORCH_NAMES, digest, tensor_digest
from charrnn_tui.engine.storage.metaschema import (
    CONFIG,
    CORPUS,
    SPEC,
    STATE,
    SchemaError,
    check_object,
    check_optimizer,
    parse_json,
)

FORMAT = "charrnn-tui"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
MAX_HEADER = 64 << 20
PICKLE_SUFFIXES = {".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin"}
_DTYPES = {"F32", "F16", "BF16", "F64", "I64"}
_NON_NEGATIVE = {"step", "exp_avg_sq", "max_exp_avg_sq", "sum", "square_avg"}  # optim state
_SECTIONS = {"spec": SPEC, "state": STATE, "config": CONFIG, "corpus": CORPUS}
NO_CHECKSUM = ("was written before model files carried a checksum; its tensor data cannot be "
               "verified (saving it again adds one)")


class ModelFileError(CharRNNError):
    """A model file that cannot be used; the message names the check that failed."""


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("charrnn-tui")
    except PackageNotFoundError:
        ours = "dev"
    try:  # without importing it: a weights-only export needs no torch
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = "none"
    return {"charrnn-tui": ours, "torch": torch_version, "numpy": np.__version__,
            "safetensors": safetensors.__version__}


def encode(ckpt: Checkpoint, *, created: str | None = None) -> bytes:
    """Serialize a checkpoint to safetensors bytes."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "spec": json.dumps(ckpt.spec.to_dict(), ensure_ascii=False),
        "state": json.dumps(ckpt.state.to_dict()),
        "config": json.dumps(ckpt.config),
        "corpus": json.dumps(ckpt.corpus, ensure_ascii=False),
        "optimizer": json.dumps(ckpt.optim_meta),
        "created": created or now,
        "updated": now,
        "versions": json.dumps(_versions()),
    }
    tensors = {f"model.{k}": v for k, v in ckpt.tensors.items()}
    tensors |= {f"optim.{k}": v for k, v in ckpt.optim_tensors.items()}
    meta[CHECKSUM_KEY] = tensor_digest(tensors)
    if all(isinstance(v, np.ndarray) for v in tensors.values()):  # from load_arrays
        import safetensors.numpy

        return safetensors.numpy.save({k: np.ascontiguousarray(v) for k, v in tensors.items()},
                                      metadata=meta)
    import safetensors.torch

    return safetensors.torch.save({k: v.contiguous() for k, v in tensors.items()},
                                  metadata=meta)


def save(path: Path, ckpt: Checkpoint, *, created: str | None = None) -> None:
    write_atomic(path, encode(ckpt, created=created))


def _refuse_pickle(path: Path, head: bytes, size: int) -> None:
    # A safetensors file starts with an 8-byte little-endian header length and then "{";
    # that length's first byte may well be 0x80, so sniff for pickle/zip only otherwise.
    looks_safetensors = (len(head) >= 9 and head[8:9] == b"{"
                         and int.from_bytes(head[:8], "little") <= size - 8)
    magic = head[:1] == b"\x80" or head[:2] == b"PK"
    if path.suffix.lower() in PICKLE_SUFFIXES or (magic and not looks_safetensors):
        raise ModelFileError(
            f"{path.name}: looks like a pickle/PyTorch checkpoint; loading those can run "
            "code, so charrnn-tui only reads its own .safetensors model files"
        )


def read_header(path: Path) -> tuple[dict, dict]:
    """(tensor entries, metadata) from the header alone; validates the framing."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            return _header_of(f, os.fstat(f.fileno()).st_size, path)
    except OSError as e:
        raise ModelFileError(f"{path.name}: cannot read ({e.strerror or e})") from None


def _header_of(f: BinaryIO, size: int, path: Path) -> tuple[dict, dict]:
    """The header of the open file `f` of `size` bytes (read_header's work)."""
    head = f.read(9)
    _refuse_pickle(path, head, size)
    head = head[:8]
    f.seek(8)
    if size < 8 or len(head) < 8:
        raise ModelFileError(f"{path.name}: file is empty or truncated (size check)")
    (n,) = struct.unpack("<Q", head)
    if n > size - 8 or n > MAX_HEADER:
        raise ModelFileError(f"{path.name}: header length {n} exceeds the file "
                             f"size {size} (header check)")
    raw = f.read(n)
    try:  # bounded: the header holds tensor entries and a flat map of strings
        header = parse_json(raw, "header", max_depth=4, max_chars=MAX_HEADER)
    except SchemaError as e:
        raise ModelFileError(f"{path.name}: {e} (header check)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name}: header is not a JSON object (header check)")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelFileError(f"{path.name}: metadata is not a map of strings (header check)")
    data_len = size - 8 - n
    for name, entry in header.items():
        try:
            start, end = entry["data_offsets"]
            ok = (entry["dtype"] in _DTYPES and 0 <= start <= end <= data_len
                  and isinstance(entry["shape"], list)
                  and all(isinstance(d, int) and d >= 0 for d in entry["shape"]))
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ModelFileError(f"{path.name}: tensor {name!r} has a bad entry or lies "
                                 "past the end of the file (truncated?)")
    return header, meta


def _json_field(meta: dict, key: str, path: Path):
    if key not in meta:
        raise ModelFileError(f"{path.name}: metadata lacks {key!r} (metadata check)")
    try:
        return parse_json(meta[key], f"metadata {key!r}")
    except SchemaError as e:
        raise ModelFileError(f"{path.name}: {e} (metadata check)") from None


def _check_meta(meta: dict, path: Path) -> dict:
    """Every field against the schema (engine/metaschema.py); unknown keys are dropped."""
    version = meta.get("format_version", "")
    if not (version.isascii() and version.isdigit() and len(version) <= 6 and int(version)):
        raise ModelFileError(f"{path.name}: bad format version {version[:20]!r} "
                             "(version check)")
    if int(version) > FORMAT_VERSION:
        raise ModelFileError(f"{path.name}: format version {int(version)} is newer than this "
                             f"charrnn-tui reads ({FORMAT_VERSION}); upgrade it (version check)")
    out: dict = {}
    try:
        for key, rules in _SECTIONS.items():
            out[key] = check_object(_json_field(meta, key, path), rules, key)
    except SchemaError as e:
        check = "spec" if str(e).startswith("spec") else "metadata"
        raise ModelFileError(f"{path.name}: {e} ({check} check)") from None
    try:
        out["optimizer"] = check_optimizer(_json_field(meta, "optimizer", path))
        versions = _json_field(meta, "versions", path) if "versions" in meta else {}
        if not isinstance(versions, dict) or len(versions) > 64 or not all(
                isinstance(v, str) and len(v) <= 64 for v in versions.values()):
            raise SchemaError("versions must be a map of short strings")
        for key in ("created", "updated"):
            if len(meta.get(key, "")) > 64:
                raise SchemaError(f"{key} is longer than 64 characters")
        digest = meta.get(CHECKSUM_KEY)
        if digest is not None and not (len(digest) == 64 and digest.isascii()
                                       and digest.isalnum()):
            raise SchemaError(f"{CHECKSUM_KEY} is not a SHA-256 hex digest")
    except SchemaError as e:
        raise ModelFileError(f"{path.name}: {e} (metadata check)") from None
    out |= {"created": meta.get("created", ""), "updated": meta.get("updated", ""),
            "versions": versions, "checksum": digest}
    try:
        out["spec"] = ModelSpec.from_dict(out["spec"]).validate()
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{path.name}: architecture: {e} (spec check)") from None
    return out


def read_meta(path: Path) -> dict:
    """Parsed, schema-checked metadata; cheap enough for listing many models."""
    path = Path(path)
    _, meta = read_header(path)
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path.name}: not a charrnn-tui model (format check)")
    return _check_meta(meta, path)


def load(path: Path) -> tuple[Checkpoint, dict]:
    """Read and validate a model file. Returns the checkpoint and its metadata, whose
    "notices" list says what the user should know (e.g. that there was no checksum)."""
    import torch

    ckpt, meta = load_arrays(path)
    dtypes = meta.pop("dtypes")
    ckpt.tensors = {k: torch.from_numpy(v) for k, v in ckpt.tensors.items()}
    ckpt.optim_tensors = {k: torch.from_numpy(v).to(getattr(torch, dtypes[k]))
                          for k, v in ckpt.optim_tensors.items()}
    return ckpt, meta


def _array(entry: dict) -> np.ndarray:
    """A writable array over a deserialized entry's buffer; bfloat16 widened exactly to
    float32."""
    data, shape = entry["data"], entry["shape"]
    if entry["dtype"] == "BF16":
        wide = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        return wide.view(np.float32).reshape(shape)
    dtype = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8"}[entry["dtype"]]
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def load_arrays(path: Path) -> tuple[Checkpoint, dict]:
    """`load` without torch: the same checks, the tensors as numpy arrays (bfloat16 as
    float32; `meta["dtypes"]` keeps each optimizer tensor's torch dtype name)."""
    path = Path(path)
    # One open file for the header and the data: a save that replaces the file meanwhile
    # (an autosave by a running training) cannot pair one file's header with another's data.
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            header, raw_meta = _header_of(f, size, path)
            if raw_meta.get("format") != FORMAT:
                raise ModelFileError(f"{path.name}: not a charrnn-tui model (format check)")
            f.seek(0)
            data = f.read(size)
    except OSError as e:
        raise ModelFileError(f"{path.name}: cannot read ({e.strerror or e})") from None
    meta = _check_meta(raw_meta, path)
    spec: ModelSpec = meta["spec"]
    shapes = expected_shapes(spec)
    model_names = {k.removeprefix("model.") for k in header if k.startswith("model.")}
    stray = [k for k in header if not k.startswith(("model.", "optim."))]
    if stray or model_names - shapes.keys():
        extra = stray or sorted(model_names - shapes.keys())
        raise ModelFileError(f"{path.name}: unexpected tensor {extra[0]!r} for "
                             f"{spec.describe()} (tensor names check)")
    if missing := sorted(shapes.keys() - model_names):
        raise ModelFileError(f"{path.name}: missing tensor {missing[0]!r} (tensor names check)")
    for name, shape in shapes.items():
        got = tuple(header[f"model.{name}"]["shape"])
        if got != shape:
            vocab_axis = spec.vocab_size in shape and got != shape
            hint = (f"; the vocabulary has {spec.vocab_size} characters" if vocab_axis else "")
            raise ModelFileError(f"{path.name}: tensor {name!r} has shape {got}, "
                                 f"expected {shape}{hint} (shape check)")
    try:
        entries = dict(safetensors.deserialize(data))  # the library's own framing checks
    except Exception as e:
        raise ModelFileError(f"{path.name}: tensor data unreadable: {e} (data check)") from None
    if meta["checksum"] is None:
        meta["notices"] = [f"{path.name} {NO_CHECKSUM}"]
    elif digest((name, TORCH_NAMES[e["dtype"]], e["shape"], e["data"])
                for name, e in entries.items()) != meta["checksum"]:
        raise ModelFileError(f"{path.name}: tensor data does not match its checksum; the "
                             "file is corrupt (checksum check)")
    else:
        meta["notices"] = []
    tensors = {name: _array(e) for name, e in entries.items()}
    for name, t in tensors.items():
        if t.dtype.kind == "f" and not np.isfinite(t).all():
            raise ModelFileError(f"{path.name}: tensor {name!r} holds NaN or Inf "
                                 "(finiteness check)")
    for name, t in tensors.items():  # a negative running square would make a step complex
        key = name.rsplit(".", 1)[-1]
        if name.startswith("optim.") and (key in _NON_NEGATIVE or ".memory." in f".{name}"
                                          ) and t.size and not (t >= 0).all():
            raise ModelFileError(f"{path.name}: optimizer state {name!r} is negative "
                                 "(optimizer check)")
    weights = {k.removeprefix("model."): v.astype(np.float32, copy=False)
               for k, v in tensors.items() if k.startswith("model.")}
    optim = {k.removeprefix("optim."): v for k, v in tensors.items() if k.startswith("optim.")}
    meta["dtypes"] = {k.removeprefix("optim."): TORCH_NAMES[e["dtype"]].removeprefix("torch.")
                      for k, e in entries.items() if k.startswith("optim.")}
    state = TrainState.from_dict(meta["state"])  # the schema checked every field
    ckpt = Checkpoint(spec, weights, optim, meta["optimizer"], state, meta["config"],
                      meta["corpus"])
    return ckpt, meta
