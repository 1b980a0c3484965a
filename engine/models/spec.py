"""The architecture description every model file carries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from charrnn_tui.engine.errors import ConfigError

IMPLEMENTATIONS = ("torch", "scratch", "numpy")
CELLS = ("lstm", "gru", "rnn")


@dataclass
class ModelSpec:
    """What to build: implementation, cell, sizes, and the vocabulary (sorted characters)."""

    impl: str = "torch"
    cell: str = "lstm"
    layers: int = 2
    hidden: int = 256
    embed: int = 64
    dropout: float = 0.0
    vocab: list[str] = field(default_factory=list)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def validate(self) -> ModelSpec:
        """Raise ConfigError with a user-facing reason if the combination cannot be built."""
        if self.impl not in IMPLEMENTATIONS:
            raise ConfigError(f"implementation must be one of {', '.join(IMPLEMENTATIONS)}")
        if self.cell not in CELLS:
            raise ConfigError(f"cell must be one of {', '.join(CELLS)}")
        if self.impl == "numpy" and self.cell != "rnn":
            raise ConfigError("the numpy implementation has only the vanilla 'rnn' cell")
        if self.impl != "torch" and self.layers != 1:
            raise ConfigError(f"the {self.impl} implementation has exactly 1 layer")
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
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout must be in [0, 1)")
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
