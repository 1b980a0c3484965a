"""Schedule-Free AdamW (Defazio et al., "The Road Less Scheduled", 2024), written out.

No schedule to decay, so no budget to know: the gradient is taken at y, a blend of the
Adam-like base sequence z and its running average x; x is what is evaluated, sampled and
saved, and at every moment it is what a decayed schedule would have led to.

    y_t = (1 - β1) z_t + β1 x_t
    z_{t+1} = z_t - lr ∇f(y_t) / (√v̂ + ε)        (and weight decay at y)
    x_{t+1} = (1 - c) x_t + c z_{t+1},  c = lr_max² / Σ lr_max²  (uniform after warm-up)

The parameters hold y while training. `to_x` / `to_y` move them to x and back (both are
exact linear maps given z), so a model file holds x, and a resumed run rebuilds y from x
and the saved z. The counters are kept per parameter, so they travel with the state.
"""

from __future__ import annotations

import torch


class ScheduleFreeAdamW(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 5e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, decay, eps = group["lr"], group["weight_decay"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state.update(z=p.detach().clone(), exp_avg_sq=torch.zeros_like(p),
                                 k=0.0, lr_max=0.0, weight_sum=0.0)
                k = state["k"] + 1
                state["lr_max"] = lr_max = max(lr, state["lr_max"])
                state["weight_sum"] += lr_max ** 2
                ckp1 = lr_max ** 2 / state["weight_sum"] if state["weight_sum"] else 0.0
                v, z = state["exp_avg_sq"], state["z"]
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                step = p.grad / (v / (1 - beta2 ** k)).sqrt_().add_(eps)
                if decay:
                    step.add_(p, alpha=decay)
                p.lerp_(z, ckp1)
                p.add_(step, alpha=lr * (beta1 * (1 - ckp1) - 1))
                z.sub_(step, alpha=lr)
                state["k"] = k

    @torch.no_grad()
    def to_x(self) -> None:
        """Parameters from y to the average x (what is evaluated and saved)."""
        self._blend(lambda beta1: 1 - 1 / beta1)

    @torch.no_grad()
    def to_y(self) -> None:
        """Parameters from x back to y (where gradients are taken)."""
        self._blend(lambda beta1: 1 - beta1)

    def _blend(self, weight) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if "z" in self.state[p]:
                    p.lerp_(self.state[p]["z"], weight(group["betas"][0]))
