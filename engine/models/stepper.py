"""The fast incremental step: one character for each of N streams, on weights prepared once.

Calling `nn.LSTM` with a sequence of one costs about half a millisecond on a CPU (it lays
its weights out again through oneDNN at every call) for ~1.7 MFLOP of work. Here every
implementation is reduced once, when the sampler is built, to the same few arrays per
layer, already transposed for right-multiplication; the first layer's input projection
(embedding or one-hot times W_input, plus its bias) becomes a per-character table, so a
step is a row lookup, one matrix product per weight matrix and the gate arithmetic.

On a CPU the step runs in numpy, in place, on buffers kept with the state: a torch call
costs a few microseconds of dispatch, a numpy one about one, and a step is ~30 calls. The
sigmoid gates use sigmoid(x) = (1 + tanh(x/2)) / 2 with the halving folded into their
weights, so one tanh covers every gate of a layer. On a GPU it runs in torch.

Cells follow PyTorch's definitions (gates i,f,g,o for the LSTM; r,z,n for the GRU, with
the hidden bias of n inside the reset gate), which the scratch and numpy models share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.models.family import ArrayNet
from charrnn_tui.engine.models.registry import family_of

if TYPE_CHECKING:
    import torch

    from charrnn_tui.engine.models import Model


@dataclass(frozen=True)
class _Layer:
    wih_t: np.ndarray | torch.Tensor | None  # (input, gates·hidden); None: the table
    bih: np.ndarray | torch.Tensor | None
    whh_t: np.ndarray | torch.Tensor  # (hidden, gates·hidden)
    bhh: np.ndarray | torch.Tensor | None


def _rows(x, index: np.ndarray):
    """Rows `index` of an array or tensor (a tensor needs the index on its device)."""
    if isinstance(x, np.ndarray):
        return x[index]
    import torch

    return x[torch.as_tensor(index, device=x.device)]


class StepState:
    """Per-layer hidden (and LSTM cell) states of N streams, updated in place by `step`,
    with the step's work buffers for that N (never shared between states)."""

    def __init__(self, h: list, c: list | None):
        self.h, self.c = h, c
        self.work: dict = {}  # the step's buffers and views (Stepper._plan)

    def _map(self, f) -> StepState:
        return StepState([f(h) for h in self.h], None if self.c is None else
                         [f(c) for c in self.c])

    def copy(self) -> StepState:
        """A state later steps of this one leave alone."""
        return self._map(lambda x: x.copy() if isinstance(x, np.ndarray) else x.clone())

    def rows(self, index: np.ndarray) -> StepState:
        """Streams `index` (with repeats) as a new state."""
        return self._map(lambda x: _rows(x, index))

    def select(self, index: np.ndarray) -> StepState:
        """`rows(index)`, but in place (keeping the work buffers) when N stays the same."""
        if len(index) != self.h[0].shape[0]:
            return self.rows(index)
        for x in (*self.h, *(self.c or ())):
            if isinstance(x, np.ndarray):
                x[...] = x[index]
            else:
                x.copy_(_rows(x, index))
        return self

    def repeat(self, n: int) -> StepState:
        """Every stream n times over (one stream → n identical ones)."""
        return self.rows(np.repeat(np.arange(self.h[0].shape[0]), n))


def _sigmoid_halved(w: np.ndarray, hidden: int, cell: str) -> np.ndarray:
    """LSTM columns i,f,g,o → i,f,o,g with i,f,o halved; GRU r,z halved (see module doc)."""
    if w is None:
        return None
    w = np.array(w, copy=True)
    if cell == "lstm":
        i, f, g, o = np.split(w, 4, axis=-1)
        w = np.concatenate([i, f, o, g], axis=-1)
        w[..., :3 * hidden] *= 0.5
    elif cell == "gru":
        w[..., :2 * hidden] *= 0.5
    return np.ascontiguousarray(w)


class Stepper:
    """One model's weights, laid out for single steps. Read-only once built."""

    def __init__(self, model: Model | ArrayNet, *, use_numpy: bool | None = None):
        """`use_numpy`: None picks numpy on a CPU and torch elsewhere; False forces torch."""
        spec = model.spec
        self.family = family_of(spec)
        self.cell, self.layers, self.hidden = spec.cell, spec.layers, spec.hidden
        self.arrays = isinstance(model, ArrayNet)  # states stay numpy arrays
        if not self.arrays:
            from charrnn_tui.engine.models import LibraryRNN, ScratchRNN

            if not isinstance(model, (LibraryRNN, ScratchRNN)):
                raise TypeError(f"no fast step for {type(model).__name__}")
        self.device = "cpu" if self.arrays else next(model.parameters()).device
        self.on_numpy = self.arrays or (self.device.type == "cpu" and use_numpy is not False)
        if self.on_numpy:
            with np.errstate(over="ignore", invalid="ignore"):  # inf, as torch gives it
                self._prepare_numpy(*self._parts(_arrays_of(model)))
            return
        import torch

        with torch.no_grad():
            table, layers, head_t, head_b = self._parts(model.state_dict())
            self.logit_bound = float((head_t.abs().sum(0) + head_b.abs()).max())
            own = lambda t: None if t is None else t.detach().contiguous().clone()  # noqa: E731
            self.table = own(table)
            self._layers = [_Layer(own(x.wih_t), own(x.bih), own(x.whh_t), own(x.bhh))
                            for x in layers]
            self.head_t, self.head_b = own(head_t), own(head_b)

    def _parts(self, w: dict) -> tuple:
        """The family's tables for the step (ModelFamily.step_parts), layers as `_Layer`s."""
        table, layers, head_t, head_b = self.family.step_parts(w, self.layers)
        return table, [_Layer(*layer) for layer in layers], head_t, head_b

    def _prepare_numpy(self, table, layers, head_t, head_b) -> None:
        # The last layer's output lies in [-1, 1] in every cell (tanh, or a mix of
        # tanh values and a state that started at 0), so no logit exceeds this:
        self.logit_bound = float((np.abs(head_t).sum(0) + np.abs(head_b)).max())
        dtype = np.float64 if self.family.float64 else np.float32
        fix = lambda t: None if t is None else _sigmoid_halved(  # noqa: E731
            np.asarray(t, dtype=dtype), self.hidden, self.cell)
        self._layers = []
        for k, layer in enumerate(layers):
            bih, bhh = fix(layer.bih), fix(layer.bhh)
            if self.cell != "gru" and bhh is not None:  # one bias is enough outside the GRU
                bih, bhh = (bhh if bih is None else bih + bhh), None
            if k == 0 and bih is not None:
                table, bih = table + layer.bhh, None  # fold into the table
            self._layers.append(_Layer(fix(layer.wih_t), bih, fix(layer.whh_t), bhh))
        self.table = fix(table)
        self.head_t = np.ascontiguousarray(np.asarray(head_t, dtype=dtype))
        self.head_b = np.asarray(head_b, dtype=dtype)

    # --- states in the model's own format and back ------------------------------------
    def from_model(self, state) -> StepState:
        """A model state (as `model.init_state`/`forward` give it) as per-layer arrays."""
        h, c = state if self.cell == "lstm" else (state, None)
        if not self.family.stacked_state:
            h, c = h[None], None if c is None else c[None]
        if self.on_numpy:
            dtype = np.float64 if self.family.float64 else np.float32
            own = lambda x: np.array(x if isinstance(x, np.ndarray)  # noqa: E731
                                     else x.detach().float().numpy(), dtype=dtype)
        else:
            own = lambda x: x.detach().clone()  # noqa: E731
        return StepState([own(x) for x in h], None if c is None else [own(x) for x in c])

    def to_model(self, st: StepState):
        """The inverse of `from_model`: new arrays for an array model, else new tensors."""
        if self.arrays:
            stack = np.stack
        else:
            import torch

            stack = (lambda xs: torch.stack([torch.tensor(x) for x in xs])) if self.on_numpy \
                else torch.stack
        h = stack(st.h)
        c = None if st.c is None else stack(st.c)
        if not self.family.stacked_state:
            h, c = h[0], None if c is None else c[0]
        return (h, c) if self.cell == "lstm" else h

    # --- the step -----------------------------------------------------------------------
    def step(self, ids, st: StepState) -> np.ndarray:
        """Feed character `ids[n]` to stream n; returns logits (N, vocab) and updates `st`.

        On a CPU the logits are a buffer of `st`, overwritten by its next step.
        """
        if not self.on_numpy:
            import torch

            return self._step_torch(torch.as_tensor(np.asarray(ids), device=self.device), st)
        plan = st.work.get("plan") or self._plan(st)
        x = None
        for layer, (h, c, g, t, views) in zip(self._layers, plan, strict=True):
            if x is None:
                self.table.take(ids, axis=0, out=g)
            else:
                np.dot(x, layer.wih_t, out=g)
                g += layer.bih
            np.dot(h, layer.whh_t, out=t)
            if layer.bhh is not None:
                t += layer.bhh
            if self.cell == "lstm":
                sig, i, f, o, gg, ig = views
                g += t
                np.tanh(g, out=g)
                sig *= 0.5
                sig += 0.5
                c *= f
                np.multiply(i, gg, out=ig)
                c += ig
                np.tanh(c, out=h)
                h *= o
            elif self.cell == "gru":
                rz, trz, r, z, xn, hn = views
                rz += trz
                np.tanh(rz, out=rz)
                rz *= 0.5
                rz += 0.5
                hn *= r  # r * (W_hn h + b_hn)
                hn += xn
                np.tanh(hn, out=hn)
                h -= hn  # h' = n + z * (h - n)
                h *= z
                h += hn
            else:
                g += t
                np.tanh(g, out=h)
            x = h
        out = np.dot(x, self.head_t, out=st.work["out"])
        out += self.head_b
        return out

    def _plan(self, st: StepState) -> list[tuple]:
        """Work buffers for `st`'s N and, per layer, the views the step writes through
        (made once: slicing at every step costs as much as the small ops themselves)."""
        n, hid, dtype = st.h[0].shape[0], self.hidden, self.table.dtype
        width = self.table.shape[1]
        g, t = np.empty((n, width), dtype), np.empty((n, width), dtype)
        plan = []
        for k in range(self.layers):
            if self.cell == "lstm":  # columns i, f, o, g (see _sigmoid_halved)
                views = (g[:, :3 * hid], g[:, :hid], g[:, hid:2 * hid], g[:, 2 * hid:3 * hid],
                         g[:, 3 * hid:], t[:, :hid])
            elif self.cell == "gru":  # r, z, n
                views = (g[:, :2 * hid], t[:, :2 * hid], g[:, :hid], g[:, hid:2 * hid],
                         g[:, 2 * hid:], t[:, 2 * hid:])
            else:
                views = ()
            plan.append((st.h[k], None if st.c is None else st.c[k], g, t, views))
        st.work.update(plan=plan, out=np.empty((n, self.head_t.shape[1]), dtype))
        return plan

    def _step_torch(self, ids: torch.Tensor, st: StepState) -> np.ndarray:
        """The same step in torch, for a model on a GPU; the state's tensors are replaced."""
        import torch

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
        return torch.addmm(self.head_b, x, self.head_t).to("cpu", torch.float64).numpy()


def _arrays_of(model: Model | ArrayNet) -> dict[str, np.ndarray]:
    """A CPU model's weights as arrays, named as stored."""
    if isinstance(model, ArrayNet):
        return model.arrays()
    return {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
