"""The architecture description every model file carries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from charrnn_tui.engine.errors import ConfigError

IMPLEMENTATIONS = ("torch", "scratch", "numpy")
CELLS = ("lstm", "gru", "rnn")
REGULARISERS = ("embed_dropout", "locked_dropout", "weight_dropout")


@dataclass
class ModelSpec:
    """What to build: implementation, cell, sizes, and the vocabulary (sorted characters)."""

    impl: str = "torch"
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 256
    embed: int = 64
    dropout: float = 0.0
    # AWD-LSTM regularisers, training only and torch only (models/library.py)
    embed_dropout: float = 0.0  # whole characters dropped from the embedding
    locked_dropout: float = 0.0  # one mask per sequence: between layers and before the head
    weight_dropout: float = 0.0  # DropConnect on the recurrent matrices, per step
    vocab: list[str] = field(default_factory=list)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def validate(self) -> ModelSpec:
        """Raise ConfigError with a user-facing reason if the combination cannot be built."""
        from charrnn_tui.engine.models.registry import family_of

        family = family_of(self.impl)
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}")
        family.validate(self)
        for name in ("layers", "hidden", "embed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{name} must be a whole number")
        if not 1 <= self.layers <= 8:
            raise ConfigError("layers must be between 1 and 8")
        if not 1 <= self.hidden <= 8192:
            raise ConfigError("hidden size must be between 1 and 8192")
        if not 1 <= self.embed <= 8192:
            raise ConfigError("embedding size must be between 1 and 8192")
        for name in ("dropout",) + REGULARISERS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
                raise ConfigError(f"{name.replace('_', ' ')} must be in [0, 1)")
        if not family.regularisers and any(getattr(self, name) for name in REGULARISERS):
            raise ConfigError("embedding, locked and weight dropout need the torch "
                              "implementation")
        if len(self.vocab) < 2 or len(set(self.vocab)) != len(self.vocab):
            raise ConfigError("vocabulary must hold at least 2 distinct characters")
        if any(len(c) != 1 for c in self.vocab):
            raise ConfigError("vocabulary entries must be single characters")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def describe(self) -> str:
        return f"{self.impl}/{self.cell} {self.layers}×{self.hidden}"
