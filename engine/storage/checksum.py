"""A digest of a model file's tensors, recorded in its metadata and checked on load.

The safetensors framing catches truncation but not a flipped byte inside the data; the
digest does. It covers each tensor's name, dtype, shape and bytes, so it is independent of
how the file lays the tensors out. Dtypes are named as torch names them, whether the
tensors are torch tensors or the raw entries the array loader reads without torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

KEY = "tensors_sha256"
# safetensors' dtype codes and numpy's dtypes, by the name torch gives them
TORCH_NAMES = {"F32": "torch.float32", "F16": "torch.float16", "BF16": "torch.bfloat16",
               "F64": "torch.float64", "I64": "torch.int64"}
_NUMPY_NAMES = {np.dtype(np.float32): "torch.float32", np.dtype(np.float16): "torch.float16",
                np.dtype(np.float64): "torch.float64", np.dtype(np.int64): "torch.int64"}


def digest(entries: Iterable[tuple[str, str, tuple[int, ...], bytes]]) -> str:
    """The digest of (name, torch dtype name, shape, little-endian bytes) entries."""
    h = hashlib.sha256()
    for name, dtype, shape, data in sorted(entries, key=lambda e: e[0]):
        h.update(f"{name}\0{dtype}\0{tuple(shape)}\0".encode())
        h.update(data)
    return h.hexdigest()


def tensor_digest(tensors: dict) -> str:
    """The digest of torch tensors or numpy arrays by name."""
    entries = []
    for name, t in tensors.items():
        if isinstance(t, np.ndarray):
            a = np.ascontiguousarray(t)
            entries.append((name, _NUMPY_NAMES[a.dtype], a.shape, a.reshape(-1).view(np.uint8)))
            continue
        import torch

        t = t.detach().to("cpu").contiguous()
        entries.append((name, str(t.dtype), tuple(t.shape),
                        t.reshape(-1).view(torch.uint8).numpy()))
    return digest(entries)
