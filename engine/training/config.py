"""How to train: batch shape, optimizer, schedule, budget, device and reporting cadence."""

from __future__ import annotations

from dataclasses import dataclass

from charrnn_tui.engine.data.corpus import TRAIN_FRACTION
from charrnn_tui.engine.errors import ConfigError
from charrnn_tui.engine.models import family_of
from charrnn_tui.engine.training.optim import OPTIMIZERS, default_optimizer

DEFAULT_PATIENCE = 5
SCHEDULES = ("constant", "cosine", "rsqrt")


@dataclass
class TrainConfig:
    batch: int = 64
    seq: int = 100
    lr: float | None = None  # None: the optimizer's default for the implementation
    optimizer: str | None = None  # None: adam for torch, adagrad for scratch/numpy
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    # constant | cosine (decays to min_lr_ratio by the end of the budget) | rsqrt (needs no
    # budget: the rate falls as 1/√(1 + step/rsqrt_steps), a half at 3 × rsqrt_steps)
    schedule: str = "constant"
    rsqrt_steps: int = 2000
    min_lr_ratio: float = 0.1
    warmup_steps: int = 0  # the rate ramps up linearly over the first steps of training
    ema: float = 0.0  # decay of an averaged copy of the weights (0: off); see averaging.py
    epochs: float | None = None
    time_budget: float | None = None  # seconds
    max_steps: int | None = None
    device: str = "cpu"
    precision: str = "auto"  # auto | bf16 | fp32 (bf16 is autocast; loss and state stay fp32)
    seed: int = 1337
    eval_every: float = 30.0  # seconds between validation passes
    # evaluations in a row without a better validation loss before the run stops
    # (0: never; None: DEFAULT_PATIENCE for an open-ended run, never for a budgeted one)
    patience: int | None = None
    report_every: float = 0.1  # seconds between Progress events
    sample_every: float = 0.0  # seconds between short samples; 0 turns them off
    sample_length: int = 200
    gradflow_every: float = 5.0  # seconds between gradient-flow passes; 0 turns them off
    autosave_every: float = 120.0  # seconds; needs a saver
    train_fraction: float = TRAIN_FRACTION
    eval_batch: int = 32
    eval_seq: int = 256

    @property
    def open_ended(self) -> bool:
        """No budget: the run goes on until stopped, by the user or by patience."""
        return self.time_budget is None and self.epochs is None and self.max_steps is None

    @property
    def patience_in_use(self) -> int:
        """Evaluations without improvement that end the run; 0: patience is off."""
        if self.patience is not None:
            return self.patience
        return DEFAULT_PATIENCE if self.open_ended else 0

    def validate(self, impl: str) -> TrainConfig:
        if self.batch < 1 or self.seq < 1:
            raise ConfigError("batch and sequence length must be at least 1")
        if self.lr is not None and not (0 < self.lr < 10):
            raise ConfigError("learning rate must be between 0 and 10")
        opt = self.optimizer or default_optimizer(impl)
        only = family_of(impl).optimizers
        if only is not None and opt not in only:
            raise ConfigError(f"the {impl} implementation trains with {' or '.join(only)} only")
        if opt not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}")
        if not isinstance(self.rsqrt_steps, int) or self.rsqrt_steps < 1:
            raise ConfigError("rsqrt steps must be a whole number, 1 or more")
        if not isinstance(self.warmup_steps, int) or self.warmup_steps < 0:
            raise ConfigError("warm-up steps must be a whole number, 0 or more")
        if self.patience is not None and (not isinstance(self.patience, int)
                                          or self.patience < 0):
            raise ConfigError("patience must be a whole number of evaluations, 0 or more")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError("the weight average's decay must be in [0, 1) (0: off)")
        if not 0.0 < self.train_fraction < 1.0:
            raise ConfigError("train fraction must be between 0 and 1")
        return self
