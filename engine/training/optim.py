"""Optimizers by name, with the learning rates that suit each one by default."""

from __future__ import annotations

from typing import TYPE_CHECKING

from charrnn_tui.engine.checkpoint import OPTIMIZERS
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models import family_of

if TYPE_CHECKING:
    import torch

__all__ = ["OPTIMIZERS", "default_lr", "default_optimizer", "make_optimizer"]
# muon: the best of 2e-3, 5e-3 and 1e-2 after 300 steps (2×256 LSTM, 16 × 50, rsqrt with the
# weight average; 2.056, 1.847, 1.814 on Tiny Shakespeare); a preset's own rate wins over it
_DEFAULT_LR = {"adam": 2e-3, "adamw": 2e-3, "rmsprop": 2e-3, "adagrad": 0.1, "sf-adamw": 5e-3,
               "muon": 1e-2}


def default_optimizer(impl: str) -> str:
    """The family's choice: Adagrad for the hand-built models, Adam for the library one."""
    return family_of(impl).default_optimizer


def default_lr(optimizer: str) -> float:
    return _DEFAULT_LR[optimizer]


def make_optimizer(name: str, model: torch.nn.Module, lr: float,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    import torch

    params = model.parameters()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay or 0.01)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "sf-adamw":
        from charrnn_tui.engine.training.schedule_free import ScheduleFreeAdamW

        return ScheduleFreeAdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "muon":
        from charrnn_tui.engine.training.muon import Muon

        named = dict(model.named_parameters())
        matrices = {named[k]: blocks for k, blocks
                    in family_of(model.spec).hidden_matrices(model.spec).items()}
        return Muon(params, matrices, lr=lr, weight_decay=weight_decay)
    raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
