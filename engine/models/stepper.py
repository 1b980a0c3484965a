"""The fast incremental step: one character for each of N streams, on weights prepared once.

Calling `nn.LSTM` with a sequence of one costs about half a millisecond on a CPU (it lays
its weights out again through oneDNN at every call) for ~1.7 MFLOP of work. Here every
implementation is reduced once, when the sampler is built, to the same few tensors per
layer, already transposed for right-multiplication; the first layer's input projection
(embedding or one-hot times W_input, plus its bias) becomes a per-character table, so a
step is a row lookup, one matmul per weight matrix and the gate arithmetic.

Cells follow PyTorch's definitions (gates i,f,g,o for the LSTM; r,z,n for the GRU, with
the hidden bias of n inside the reset gate), which the scratch and numpy models share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from charrnn_tui.engine.models import LibraryRNN, Model, NumpyRNN, ScratchRNN


@dataclass(frozen=True)
class _Layer:
    wih_t: torch.Tensor | None  # (input, gates·hidden); None for the first layer (a table)
    bih: torch.Tensor | None
    whh_t: torch.Tensor  # (hidden, gates·hidden)
    bhh: torch.Tensor | None


class StepState:
    """Per-layer hidden (and LSTM cell) states of N streams, updated in place by `step`."""

    def __init__(self, h: list[torch.Tensor], c: list[torch.Tensor] | None):
        self.h, self.c = h, c


class Stepper:
    """One model's weights, laid out for single steps. Read-only once built."""

    def __init__(self, model: Model):
        spec = model.spec
        self.kind, self.cell, self.layers, self.hidden = spec.impl, spec.cell, spec.layers, \
            spec.hidden
        with torch.no_grad():
            if isinstance(model, NumpyRNN):
                p = {k: torch.from_numpy(v) for k, v in model.params.items()}  # float64
                self.table = (p["Wxh"].T + p["bh"]).contiguous()
                self._layers = [_Layer(None, None, p["Whh"].T.contiguous(), None)]
                self.head_t, self.head_b = p["Why"].T.contiguous(), p["by"]
            elif isinstance(model, ScratchRNN):
                self.table = (model.W_input + model.b_hidden).detach().clone()
                self._layers = [_Layer(None, None, model.W_hidden.detach().clone(), None)]
                self.head_t = model.W_softmax.detach().clone()
                self.head_b = model.b_softmax.detach().clone()
            elif isinstance(model, LibraryRNN):
                rnn, w = model.rnn, dict(model.rnn.named_parameters())
                self.table = torch.addmm(w["bias_ih_l0"], model.embed.weight,
                                         w["weight_ih_l0"].T).detach()
                self._layers = [
                    _Layer(None if k == 0 else w[f"weight_ih_l{k}"].T.contiguous().detach(),
                           None if k == 0 else w[f"bias_ih_l{k}"].detach(),
                           w[f"weight_hh_l{k}"].T.contiguous().detach(),
                           w[f"bias_hh_l{k}"].detach())
                    for k in range(rnn.num_layers)]
                self.head_t = model.head.weight.T.contiguous().detach()
                self.head_b = model.head.bias.detach()
            else:
                raise TypeError(f"no fast step for {type(model).__name__}")

    # --- states in the model's own format and back ------------------------------------
    def from_model(self, state) -> StepState:
        """A model state (as `model.init_state`/`forward` give it) as per-layer tensors."""
        if self.kind == "numpy":
            return StepState([torch.from_numpy(np.array(state, dtype=np.float64))], None)
        h, c = state if self.cell == "lstm" else (state, None)
        if self.kind == "scratch":
            h, c = h.unsqueeze(0), None if c is None else c.unsqueeze(0)
        return StepState([x.detach().clone() for x in h],
                         None if c is None else [x.detach().clone() for x in c])

    def to_model(self, st: StepState):
        """The inverse of `from_model`, as new tensors (or an array for the numpy model)."""
        if self.kind == "numpy":
            return st.h[0].numpy().copy()
        h = torch.stack(st.h)
        c = None if st.c is None else torch.stack(st.c)
        if self.kind == "scratch":
            h, c = h[0], None if c is None else c[0]
        return (h, c) if self.cell == "lstm" else h

    # --- the step -----------------------------------------------------------------------
    def step(self, ids: torch.Tensor, st: StepState) -> torch.Tensor:
        """Feed character `ids[n]` to stream n; returns logits (N, vocab) and updates `st`.

        Nothing here requires grad (weights and states are detached copies), so autograd
        records nothing without the cost of a no_grad context per character.
        """
        x = None
        for k, layer in enumerate(self._layers):
            gx = self.table[ids] if x is None else torch.addmm(layer.bih, x, layer.wih_t)
            h = st.h[k]
            gh = h @ layer.whh_t if layer.bhh is None else torch.addmm(layer.bhh, h, layer.whh_t)
            if self.cell == "lstm":
                i, f, g, o = (gx + gh).chunk(4, dim=1)
                c = torch.sigmoid(f) * st.c[k] + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                st.c[k] = c
            elif self.cell == "gru":
                xr, xz, xn = gx.chunk(3, dim=1)
                hr, hz, hn = gh.chunk(3, dim=1)
                r = torch.sigmoid(xr + hr)
                z = torch.sigmoid(xz + hz)
                h = torch.lerp(torch.tanh(xn + r * hn), h, z)  # (1 - z) * n + z * h
            else:
                h = torch.tanh(gx + gh)
            st.h[k] = h
            x = h
        return torch.addmm(self.head_b, x, self.head_t)
