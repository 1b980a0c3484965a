"""PyTorch's own recurrent layers: embedding → nn.LSTM/GRU/RNN stack → linear head.

With the AWD-LSTM regularisers switched on (`ModelSpec.embed_dropout`, `locked_dropout`,
`weight_dropout`), training runs the stack a layer at a time through the same fused kernel
nn.LSTM uses (`torch.lstm` with an explicit weight list), so the dropped copy of
`weight_hh` can stand in for the real one. The weights and their names do not change, and
evaluation and sampling take the plain path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from charrnn_tui.engine.models.spec import ModelSpec

_LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
_KERNELS = {"lstm": torch.lstm, "gru": torch.gru, "rnn": torch.rnn_tanh}

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def locked_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Variational dropout: one mask per sequence, the same at every time step."""
    if not p:
        return x
    mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p) / (1 - p)
    return x * mask


def embedding_dropout(weight: torch.Tensor, p: float) -> torch.Tensor:
    """Drop whole characters: a dropped row is zero wherever that character occurs."""
    if not p:
        return weight
    return weight * (weight.new_empty(weight.shape[0], 1).bernoulli_(1 - p) / (1 - p))


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

    @property
    def regularised(self) -> bool:
        s = self.spec
        return bool(s.embed_dropout or s.locked_dropout or s.weight_dropout)

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """x: (batch, time) character ids → logits (batch, time, vocab) and the new state."""
        if self.training and self.regularised:
            return self._regularised_forward(x, state)
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state

    def _regularised_forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        s = self.spec
        out = F.embedding(x, embedding_dropout(self.embed.weight, s.embed_dropout))
        kernel, lstm = _KERNELS[s.cell], s.cell == "lstm"
        finals = []
        for i in range(s.layers):
            if i:  # between layers: the stack's own dropout, then the locked one
                out = locked_dropout(F.dropout(out, s.dropout, training=True), s.locked_dropout)
            weights = [getattr(self.rnn, f"{name}_l{i}")
                       for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            weights[1] = F.dropout(weights[1], s.weight_dropout, training=True)  # DropConnect
            hx = (state[0][i: i + 1], state[1][i: i + 1]) if lstm else state[i: i + 1]
            out, *final = kernel(out, hx, weights, True, 1, 0.0, True, False, True)
            finals.append(final)
        if lstm:
            state = (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
        else:
            state = torch.cat([f[0] for f in finals])
        return self.head(locked_dropout(out, s.locked_dropout)), state

    def layer_states(self, state: State) -> dict[str, torch.Tensor]:
        """Per-layer views of a state for inspection: name → (layers, batch, hidden)."""
        if self.spec.cell == "lstm":
            h, c = state
            return {"hidden": h, "cell": torch.tanh(c)}
        return {"hidden": state}

    def flow_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What gradient flow differentiates by (family.py): the embedding vectors."""
        return self.embed(x).detach().float()

    def flow_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The logits at the last position, from a zero state, for embedded `inputs`."""
        out, _ = self.rnn(inputs, self.init_state(len(inputs), inputs.device))
        return self.head(out[:, -1])
