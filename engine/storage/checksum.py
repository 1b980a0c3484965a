"""A digest of a model file's tensors, recorded in its metadata and checked on load.

The safetensors framing catches truncation but not a flipped byte inside the data; the
digest does. It covers each tensor's name, dtype, shape and bytes, so it is independent of
how the file lays the tensors out.
"""

from __future__ import annotations

import hashlib

import torch

KEY = "tensors_sha256"


def tensor_digest(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()
