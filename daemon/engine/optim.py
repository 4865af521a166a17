"""Optimisers for the image: L-BFGS (the papers' choice) and Adam.

L-BFGS (Nocedal & Wright, Alg. 7.4, two-loop recursion) with a short history (default 20; the authors'
code keeps all), a fixed step length like ``torch.optim.LBFGS`` without line search (first step
scaled by min(1, 1/‖g‖₁)), and NO host synchronisation: curvature pairs with yᵀs ≤ 1e-10 are kept
but given ρ = 0, so they contribute nothing, instead of a data-dependent ``if``. One call of
``step`` evaluates the loss once (at the current image) and then moves the image.
"""
from __future__ import annotations

from typing import Callable, List

import torch

Closure = Callable[[], torch.Tensor]  # computes the loss, fills x.grad, returns the loss


class LBFGS:
    def __init__(self, x: torch.Tensor, history: int = 20, lr: float = 1.0):
        self.x, self.m, self.lr = x, history, lr
        self.s: List[torch.Tensor] = []
        self.y: List[torch.Tensor] = []
        self.rho: List[torch.Tensor] = []
        self.gamma = torch.ones((), device=x.device)
        self.prev_g = None
        self.prev_step = None

    @torch.no_grad()
    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        q = -g
        alphas = []
        for s, y, rho in zip(reversed(self.s), reversed(self.y), reversed(self.rho)):
            a = rho * torch.sum(s * q)
            q.sub_(y * a)
            alphas.append(a)
        r = q.mul_(self.gamma)
        for s, y, rho, a in zip(self.s, self.y, self.rho, reversed(alphas)):
            b = rho * torch.sum(y * r)
            r.add_(s * (a - b))
        return r

    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        with torch.no_grad():
            g = self.x.grad.detach().clone()
            if self.prev_g is None:
                d = -g
                t = torch.clamp(1.0 / g.abs().sum().clamp_min(1e-30), max=1.0) * self.lr
            else:
                y = g - self.prev_g
                s = self.prev_step
                ys = torch.sum(y * s)
                ok = ys > 1e-10
                self.s.append(s)
                self.y.append(y)
                self.rho.append(torch.where(ok, 1.0 / ys.clamp_min(1e-10), torch.zeros_like(ys)))
                self.gamma = torch.where(ok, ys / torch.sum(y * y).clamp_min(1e-30), self.gamma)
                if len(self.s) > self.m:
                    self.s.pop(0), self.y.pop(0), self.rho.pop(0)
                d = self._direction(g)
                t = self.lr
            step = d * t
            self.x.add_(step)
            self.prev_g, self.prev_step = g, step
        return loss


class Adam:
    """torch.optim.Adam on the image, with a step size given in 0-255 pixel units."""

    def __init__(self, x: torch.Tensor, lr: float, input_scale: float):
        self.x = x
        self.opt = torch.optim.Adam([x], lr=lr * input_scale / 255.0)

    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        self.opt.step()
        return loss


def make_optimizer(name: str, x: torch.Tensor, history: int, lr: float, input_scale: float):
    if name == "lbfgs":
        return LBFGS(x, history=history)
    return Adam(x, lr=lr, input_scale=input_scale)
