"""A recurrent net with its own weights and an explicit loop over time; autograd does BPTT.

One layer. The input weight row for character i plays the role of one-hot(i) @ W_input.
Gate blocks are stacked along the last axis of W_input / W_hidden / b_hidden.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from charrnn_tui.engine.models.family import GATES
from charrnn_tui.engine.models.spec import ModelSpec

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class ScratchRNN(nn.Module):
    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        v, h, g = spec.vocab_size, spec.hidden, GATES[spec.cell]
        scale = 1.0 / math.sqrt(h)
        self.W_input = nn.Parameter(torch.empty(v, g * h).uniform_(-scale, scale))
        self.W_hidden = nn.Parameter(torch.empty(h, g * h).uniform_(-scale, scale))
        self.b_hidden = nn.Parameter(torch.zeros(g * h))
        self.W_softmax = nn.Parameter(torch.empty(h, v).uniform_(-scale, scale))
        self.b_softmax = nn.Parameter(torch.zeros(v))

    def init_state(self, batch: int, device: torch.device | str = "cpu") -> State:
        zeros = torch.zeros(batch, self.spec.hidden, device=device)
        return (zeros, zeros.clone()) if self.spec.cell == "lstm" else zeros

    def _step(self, xw: torch.Tensor, state: State) -> State:
        """One time step given the input contribution xw = W_input[x] + b_hidden."""
        cell = self.spec.cell
        if cell == "rnn":
            return torch.tanh(xw + state @ self.W_hidden)
        if cell == "gru":
            hw = state @ self.W_hidden
            xr, xz, xn = xw.chunk(3, dim=-1)
            hr, hz, hn = hw.chunk(3, dim=-1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return (1 - z) * n + z * state
        h, c = state
        i, f, g, o = (xw + h @ self.W_hidden).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """x: (batch, time) character ids → logits (batch, time, vocab) and the new state."""
        xw = self.W_input[x] + self.b_hidden  # all time steps' input terms at once
        outputs = []
        for t in range(x.shape[1]):
            state = self._step(xw[:, t], state)
            outputs.append(state[0] if isinstance(state, tuple) else state)
        hs = torch.stack(outputs, dim=1)
        return hs @ self.W_softmax + self.b_softmax, state

    def layer_states(self, state: State) -> dict[str, torch.Tensor]:
        """Per-layer views of a state for inspection: name → (layers, batch, hidden)."""
        if self.spec.cell == "lstm":
            h, c = state
            return {"hidden": h.unsqueeze(0), "cell": torch.tanh(c).unsqueeze(0)}
        return {"hidden": state.unsqueeze(0)}

    def flow_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What gradient flow differentiates by (family.py): the one-hot characters."""
        return F.one_hot(x, self.spec.vocab_size).float()

    def flow_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """The logits at the last position, from a zero state, for one-hot `inputs`."""
        xw = inputs @ self.W_input + self.b_hidden
        state = self.init_state(len(inputs), inputs.device)
        for t in range(inputs.shape[1]):
            state = self._step(xw[:, t], state)
        h = state[0] if isinstance(state, tuple) else state
        return h @ self.W_softmax + self.b_softmax
