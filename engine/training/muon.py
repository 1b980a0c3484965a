"""Muon (Keller Jordan, 2024; the optimizer of the public nanoGPT speedruns) for the
recurrent and input-to-hidden matrices, AdamW for everything else.

For a hidden matrix the update is the Nesterov momentum of its gradient, orthogonalised:
the gradient's singular values all moved to about 1 by five quintic Newton–Schulz steps
(the speedruns' coefficients), so no direction in it dominates the step. The embedding,
the output layer, biases and anything else (a character's embedding row is a lookup, not
a linear map of a hidden state; the same holds for the scratch model's one-hot input
matrix) take AdamW, as in the speedruns.

Gate blocks are orthogonalised separately. An LSTM's weight_hh is four H×H maps stacked
(input, forget, cell, output gates; three for a GRU), each feeding its own nonlinearity:
orthogonalising the 4H×H whole would share one spectral budget among them, and a gate
with a large gradient would take the step from the others. Each block alone gets the same
size of update, as the speedruns split their fused QKV matrix.

One learning rate serves both rules: each orthogonalised block is scaled by
0.2·√max(rows, cols), which gives its update the RMS of 0.2 typical of an AdamW step
(Moonlight, Liu et al. 2025), so the engine's schedules, the rollback's halving and `--lr`
work as for adam. Newton–Schulz runs in float32 on every device: bf16 matrix products are
fast only on some CPUs. On a CPU it is not cheap at small batches: for the 2×256 LSTM at
16 × 50 on one thread a step took about 86 ms against Adam's 28 ms (measured in one
process), nearly all of it the twelve 256×256 blocks' matrix products (orthogonalising
each 1024×256 matrix whole would take about a quarter less).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
RMS_MATCH = 0.2


def orthogonalise(g: torch.Tensor, steps: int = NS_STEPS) -> torch.Tensor:
    """≈ U Vᵀ for g = U S Vᵀ, for each matrix of a batch (…, m, n), in float32. The singular
    values come out between about 0.7 and 1.2 rather than exactly 1: the quintic trades
    exactness for speed, which Muon's updates do not need."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    tall = x.size(-2) > x.size(-1)
    if tall:  # X Xᵀ on the short side: the smaller product
        x = x.mT
    x = x / (torch.linalg.matrix_norm(x, keepdim=True) + 1e-7)  # all singular values ≤ 1
    for _ in range(steps):
        s = x @ x.mT
        x = a * x + (b * s + c * s @ s) @ x
    return x.mT if tall else x


class Muon(torch.optim.Optimizer):
    """`matrices` maps each hidden matrix to (gate blocks, the axis they are stacked
    along); every other parameter steps with AdamW."""

    def __init__(self, params: Iterable[torch.nn.Parameter],
                 matrices: dict[torch.nn.Parameter, tuple[int, int]], lr: float = 5e-3,
                 momentum: float = 0.95, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "betas": betas,
                                  "eps": eps, "weight_decay": weight_decay})
        self.matrices = matrices

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, decay = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if decay:
                    p.mul_(1 - lr * decay)
                if p in self.matrices:
                    self._muon(p, group, *self.matrices[p])
                else:
                    self._adamw(p, group)

    def _muon(self, p: torch.nn.Parameter, group: dict, blocks: int, axis: int) -> None:
        momentum = group["momentum"]
        buf = self.state[p].setdefault("momentum_buffer", torch.zeros_like(p))
        buf.lerp_(p.grad, 1 - momentum)
        update = p.grad.lerp(buf, momentum)  # Nesterov
        stacked = update.unflatten(axis, (blocks, -1)).movedim(axis, 0)  # (blocks, m, n)
        ortho = orthogonalise(stacked).movedim(0, axis).flatten(axis, axis + 1)
        scale = RMS_MATCH * math.sqrt(max(stacked.shape[-2:]))
        p.add_(ortho.to(p.dtype), alpha=-group["lr"] * scale)

    def _adamw(self, p: torch.nn.Parameter, group: dict) -> None:
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if not state:
            state.update(step=0.0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        state["step"] += 1
        k = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(p.grad, 1 - beta1)
        v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
        denom = (v / (1 - beta2 ** k)).sqrt_().add_(group["eps"])
        p.addcdiv_(m, denom, value=-group["lr"] / (1 - beta1 ** k))
