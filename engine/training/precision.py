"""Choosing the compute precision: bf16 autocast where the hardware runs it fast."""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from charrnn_tui.engine.errors import ConfigError

if TYPE_CHECKING:  # imported by each function: the app's form asks only once torch is loaded
    import torch


@cache
def cpu_has_bf16() -> bool:
    """True when the CPU has native bf16 dot products (AVX512-BF16 or AMX)."""
    import torch

    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    native = " avx512_bf16" in flags or " amx_bf16" in flags
    return native and torch.backends.mkldnn.is_available()


def resolve_precision(requested: str, device: torch.device | str) -> str:
    """'auto' → bf16 on a CUDA device or a bf16-capable CPU, else fp32.

    'bf16' on a CPU without native bf16 also gives fp32: oneDNN has no bf16 LSTM there
    and refuses to build one (the trainer tells the user it fell back).
    """
    import torch

    kind = torch.device(device).type
    if requested not in ("auto", "bf16", "fp32"):
        raise ConfigError("precision must be auto, bf16 or fp32")
    if requested == "auto":
        if kind == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        return "bf16" if kind == "cpu" and cpu_has_bf16() else "fp32"
    if requested == "bf16" and kind == "cpu" and not cpu_has_bf16():
        return "fp32"
    return requested


def autocast(precision: str, device: torch.device | str):
    import torch

    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def seed_device(device: torch.device, seed: int) -> None:
    """Seed the generators a step on `device` draws from (the CPU's always). Not
    `torch.manual_seed`: on a machine without CUDA it also queues a lazy CUDA, XPU and
    MTIA seed, each with a formatted stack trace, about 140 µs per call where this takes 2."""
    import torch

    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed_all(seed)
    elif device.type == "mps":
        torch.mps.manual_seed(seed)


def resolve_device(requested: str) -> torch.device:
    """'auto' picks CUDA, then MPS, then CPU; an unavailable device is a clear error."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(requested)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {requested!r}: use cpu, cuda, mps or auto") from None
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"cannot train on {requested!r}: use cpu, cuda, mps or auto")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("no CUDA device is available")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("no MPS device is available")
    return dev


def accelerator_available() -> tuple[str | None, str]:
    """The accelerator the GPU toggle would use, or None with the reason why not."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.cuda.get_device_name(0)
    if torch.backends.mps.is_available():
        return "mps", "Apple GPU (MPS)"
    if not torch.backends.cuda.is_built():
        return None, "this PyTorch build has no CUDA support"
    return None, "no CUDA or MPS device found"
