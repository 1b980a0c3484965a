"""PyTorch's own recurrent layers: embedding → nn.LSTM/GRU/RNN stack → linear head."""

from __future__ import annotations

import torch
from torch import nn

from charrnn_tui.engine.models.spec import ModelSpec

_LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class LibraryRNN(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        self.embed = nn.Embedding(spec.vocab_size, spec.embed)
        self.rnn = _LAYERS[spec.cell](
            spec.embed, spec.hidden, num_layers=spec.layers, batch_first=True,
            dropout=spec.dropout if spec.layers > 1 else 0.0,
        )
        self.head = nn.Linear(spec.hidden, spec.vocab_size)

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        zeros = torch.zeros(self.spec.layers, batch, self.spec.hidden, device=device)
        return (zeros, zeros.clone()) if self.spec.cell == "lstm" else zeros

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """x: (batch, time) character ids → logits (batch, time, vocab) and the new state."""
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state

    def layer_states(self, state: State) -> dict[str, torch.Tensor]:
        """Per-layer views of a state for inspection: name → (layers, batch, hidden)."""
        if self.spec.cell == "lstm":
            h, c = state
            return {"hidden": h, "cell": torch.tanh(c)}
        return {"hidden": state}
