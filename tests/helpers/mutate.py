"""Rewriting a model file's header in place, tensors kept byte for byte (schema and fuzz tests)."""

from __future__ import annotations

import json
from collections.abc import Callable


def split(raw: bytes) -> tuple[dict, bytes]:
    """(parsed header, tensor data) of a safetensors file."""
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def join(header: dict | str | bytes, data: bytes) -> bytes:
    text = header if isinstance(header, bytes | str) else json.dumps(header)
    body = text.encode() if isinstance(text, str) else text
    body += b" " * (-len(body) % 8)
    return len(body).to_bytes(8, "little") + body + data


def with_meta(raw: bytes, change: Callable[[dict], None]) -> bytes:
    """`raw` with its `__metadata__` map changed by `change`."""
    header, data = split(raw)
    change(header["__metadata__"])
    return join(header, data)


def set_field(raw: bytes, dotted: str, value: object) -> bytes:
    """Set e.g. "state.step" or "optimizer.param_groups.0.betas" to `value` (any JSON)."""
    section, *keys = dotted.split(".")

    def change(meta: dict) -> None:
        if not keys:
            meta[section] = value if isinstance(value, str) else json.dumps(value)
            return
        obj = json.loads(meta[section])
        target = obj
        for k in keys[:-1]:
            target = target[int(k)] if isinstance(target, list) else target[k]
        if isinstance(target, list):
            target[int(keys[-1])] = value
        else:
            target[keys[-1]] = value
        meta[section] = json.dumps(obj)

    return with_meta(raw, change)
