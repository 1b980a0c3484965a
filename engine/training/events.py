"""What the trainer reports: plain dataclasses, no UI types, safe to pass between threads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """Emitted at a steady rate (not every step): the mean training loss since the last one."""

    step: int
    epoch: int
    chunk: int  # 1-based index of the chunk just trained in this epoch
    chunks: int
    train_loss: float
    lr: float
    chars_per_s: float
    elapsed: float
    eta: float | None
    device: str
    precision: str


@dataclass(frozen=True)
class Evaluated:
    step: int
    val_loss: float  # mean cross-entropy, nats per character, whole validation split
    val_bpc: float
    best: bool


@dataclass(frozen=True)
class Sampled:
    step: int
    text: str


@dataclass(frozen=True)
class GradientFlow:
    """mean ‖∂L_T/∂x_t‖ over one chunk's streams; norms[k] is for k positions before T."""

    step: int
    norms: tuple[float, ...]


@dataclass(frozen=True)
class Notice:
    message: str
    level: str = "info"  # info | warning | error


@dataclass(frozen=True)
class Finished:
    reason: str  # budget | epochs | steps | patience | stopped | interrupted | diverged
    step: int
    val_loss: float | None
    val_bpc: float | None
    chars_per_s: float
    seconds: float
    why: str = ""  # the reason in words, as the app and the command line say it


def why_stopped(reason: str, patience: int = 0) -> str:
    """A run's end in words: "stopped: no better in 5 evaluations", "stopped by you"."""
    return {"budget": "stopped: time budget reached", "epochs": "stopped: epochs done",
            "steps": "stopped: steps done",
            "patience": f"stopped: no better in {patience} evaluations",
            "stopped": "stopped by you", "interrupted": "stopped by you",
            "diverged": "stopped: the loss stayed non-finite"}.get(reason, reason)


Event = Progress | Evaluated | Sampled | GradientFlow | Notice | Finished
