"""min-char-rnn, batched: a vanilla tanh RNN with hand-written BPTT and Adagrad in numpy.

Shapes follow the original (Wxh: hidden×vocab, Why: vocab×hidden); the hidden state is
kept as rows, (batch, hidden), so one chunk trains every stream at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from charrnn_tui.engine.models.family import ArrayNet, ModelFamily
from charrnn_tui.engine.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch

PARAM_NAMES = ("Wxh", "Whh", "Why", "bh", "by")
CLIP = 5.0


class NumpyRNN(ArrayNet):
    def __init__(self, spec: ModelSpec, seed: int = 0):
        self.spec = spec
        rng = np.random.default_rng(seed)
        v, h = spec.vocab_size, spec.hidden
        self.params: dict[str, np.ndarray] = {
            "Wxh": rng.standard_normal((h, v)) * 0.01,
            "Whh": rng.standard_normal((h, h)) * 0.01,
            "Why": rng.standard_normal((v, h)) * 0.01,
            "bh": np.zeros(h),
            "by": np.zeros(v),
        }
        self.memory = {k: np.zeros_like(p) for k, p in self.params.items()}  # Adagrad

    def init_state(self, batch: int, device: str = "cpu") -> np.ndarray:
        return np.zeros((batch, self.spec.hidden))

    def arrays(self) -> dict[str, np.ndarray]:
        return self.params

    def layer_states(self, h: np.ndarray) -> dict[str, np.ndarray]:
        """Per-layer views of a state for inspection: name → (layers, batch, hidden)."""
        return {"hidden": h[None]}

    def forward(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x: (batch, time) ids → logits (batch, time, vocab) and the last hidden state."""
        hs, h = self._hidden_states(x, h)
        return hs @ self.params["Why"].T + self.params["by"], h

    def _hidden_states(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        xw = p["Wxh"].T[x] + p["bh"]  # (batch, time, hidden): Wxh @ one-hot for every step
        hs = np.empty(xw.shape)
        for t in range(x.shape[1]):
            h = np.tanh(xw[:, t] + h @ p["Whh"].T)
            hs[:, t] = h
        return hs, h

    def loss_and_grads(
        self, x: np.ndarray, y: np.ndarray, h0: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        """Mean cross-entropy over the chunk, its gradients, and the last hidden state."""
        p = self.params
        b, t_len = x.shape
        hs, h_last = self._hidden_states(x, h0)
        logits = hs @ p["Why"].T + p["by"]
        logits -= logits.max(axis=-1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=-1, keepdims=True)
        rows = np.arange(b)[:, None], np.arange(t_len)[None, :], y
        loss = float(-np.log(probs[rows]).mean())

        dy = probs
        dy[rows] -= 1.0
        dy /= b * t_len
        flat = b * t_len
        grads = {"Why": dy.reshape(flat, -1).T @ hs.reshape(flat, -1),
                 "by": dy.sum(axis=(0, 1))}
        dh_from_out = dy @ p["Why"]  # (batch, time, hidden)
        # only the recurrence is sequential; each weight's gradient is then one product
        # over all steps at once (Wxh's through one-hot rows, as min-char-rnn's dot does)
        dh_raw = np.empty_like(hs)
        dh_next = np.zeros_like(h0)
        for t in reversed(range(t_len)):
            h = hs[:, t]
            dh_raw[:, t] = d = (1.0 - h * h) * (dh_from_out[:, t] + dh_next)
            dh_next = d @ p["Whh"]
        h_prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
        dh_flat = dh_raw.reshape(flat, -1)
        grads["Whh"] = dh_flat.T @ h_prev.reshape(flat, -1)
        grads["bh"] = dh_flat.sum(axis=0)
        one_hot = np.zeros((flat, p["Wxh"].shape[1]))
        one_hot[np.arange(flat), x.reshape(-1)] = 1.0
        grads["Wxh"] = dh_flat.T @ one_hot
        return loss, grads, h_last

    def train_step(
        self, x: np.ndarray, y: np.ndarray, h: np.ndarray, lr: float
    ) -> tuple[float, np.ndarray, bool]:
        """One Adagrad update with element-wise clipping; skipped if anything is non-finite."""
        loss, grads, h_last = self.loss_and_grads(x, y, h)
        finite = np.isfinite(loss) and all(np.isfinite(g).all() for g in grads.values())
        if finite:
            for k, g in grads.items():
                np.clip(g, -CLIP, CLIP, out=g)
                self.memory[k] += g * g
                self.params[k] -= lr * g / np.sqrt(self.memory[k] + 1e-8)
        return loss, h_last, finite

    def gradient_flow(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """‖∂L_T/∂x_t‖ per distance back from T: the backward recursion of
        `loss_and_grads`, from the last output only (x_t is the one-hot character)."""
        p = self.params
        b, t_len = x.shape
        hs, _ = self._hidden_states(x, self.init_state(b))
        logits = hs[:, -1] @ p["Why"].T + p["by"]
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        probs[np.arange(b), y[:, -1]] -= 1.0  # dL_T/dlogits, summed (not averaged) over streams
        dh = probs @ p["Why"]
        norms = np.empty(t_len)
        for k, t in enumerate(reversed(range(t_len))):
            h = hs[:, t]
            dh_raw = (1.0 - h * h) * dh
            norms[k] = np.linalg.norm(dh_raw @ p["Wxh"], axis=1).mean()  # Wxhᵀ·dh per stream
            dh = dh_raw @ p["Whh"]
        return norms


class NumpyFamily(ModelFamily):
    """min-char-rnn: float64, its own BPTT and Adagrad memory, one process on the CPU."""

    name = "numpy"
    cells = ("rnn",)
    optimizers = ("adagrad",)
    autograd = False
    distributed = False
    float64 = True
    vocab_axes = {"Wxh": 1, "Why": 0, "by": 0}

    def build(self, spec: ModelSpec, seed: int = 0) -> NumpyRNN:
        return NumpyRNN(spec, seed=seed)

    def shapes(self, spec: ModelSpec) -> dict[str, tuple[int, ...]]:
        v, h = spec.vocab_size, spec.hidden
        return {"Wxh": (h, v), "Whh": (h, h), "Why": (v, h), "bh": (h,), "by": (v,)}

    def step_parts(self, w: dict, layers: int) -> tuple:
        return w["Wxh"].T + w["bh"], [(None, None, w["Whh"].T, None)], w["Why"].T, w["by"]

    def array_model(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> NumpyRNN:
        model = NumpyRNN(spec)
        model.params = {k: np.array(weights[k], dtype=np.float64) for k in model.params}
        return model

    def weights(self, model: NumpyRNN, *, copy: bool) -> dict[str, np.ndarray]:
        return {k: v.copy() if copy else v for k, v in model.params.items()}

    def load_weights(self, model: NumpyRNN, weights: dict[str, np.ndarray]) -> None:
        model.params = {k: v.copy() for k, v in weights.items()}

    def tensors(self, model: NumpyRNN) -> dict[str, torch.Tensor]:
        import torch

        return {k: torch.from_numpy(v.astype(np.float32)) for k, v in model.params.items()}

    def load_tensors(self, model: NumpyRNN, tensors: dict) -> None:
        for k in model.params:
            t = tensors[k]
            model.params[k] = np.array(t if isinstance(t, np.ndarray) else t.double().numpy(),
                                       dtype=np.float64)

    def gradient_flow(self, model: NumpyRNN, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return model.gradient_flow(x, y)
