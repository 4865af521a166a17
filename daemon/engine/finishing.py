"""Finishing levels: full-size detail on top of a working-size result (Gatys et al. 2017, §5).

The 2017 paper's high-resolution procedure runs the transfer at a working size, upsamples the result
and continues at the higher resolution: "the high-resolution pass keeps the low-resolution
structure and adds fine texture" (the authors ran 512² × 500 steps, then 1024² × 200). Above the
working size, the structures that the deep layers (relu4_1, relu5_1) describe are already in place;
what an upsampled image lacks is the style's fine statistics at the output's own pixels. So a
finishing level at size n, started from the level below upsampled, x₀ = up(x_{n−1}), optimises

    L_finish(x) = α_f · MSE(F^k(x), F^k(x₀))  +  β Σ_{l ≤ cut} w_l · MSE(G^l(x), Ĝ^l(s_n))

- the style term is the ordinary (guided) Gram loss, but on the fine layers only, l ∈ {relu1_1 …
  ``FINISH_CUT``}, with targets from the style image at the level's pixels × style scale, never above
  its own pixels (``scale.style_size``);
- the content term's target is the level below, upsampled, at layer k = ``FINISH_CONTENT`` (not the
  photo at relu4_2): it holds the structure that the working level built while the style term puts
  the painting's brushwork back at full resolution. α_f = ``FINISH_CONTENT_WEIGHT`` × the job's α, so
  the style strength the artist set keeps its meaning.

The network then runs only to ``FINISH_CUT``: at 1024×768 on a bf16 CPU a step costs 0.58× a full
step (relu3_1 against relu5_1; BENCHMARKS.md, "Cost of a step by depth"), and the shallow layers' small
halo makes tiles cheap, which is what lets a 12-megapixel layer finish in minutes.
"""
from __future__ import annotations

from typing import Tuple

import torch

from . import tiling
from .job import Context
from .losses import ContentTerm, Objective
from .targets import style_terms
from .vgg import STYLE_LAYERS

FINISH_CUT = "relu3_1"            # the deepest style layer a finishing level matches
FINISH_CONTENT = "relu3_1"        # the layer at which it keeps the level below
FINISH_CONTENT_WEIGHT = 1.0       # α_f / α
FINISH_METRIC = False             # plain L-BFGS: the pyramid metric favours the large-scale moves that the level
                                  # below has made; without it the steps go into fine detail (BENCHMARKS.md)


def finishing_style_layers() -> Tuple[str, ...]:
    return tuple(l for l in STYLE_LAYERS if l <= FINISH_CUT)


def finishing_layers() -> Tuple[str, ...]:
    """The layers a finishing level's objective reads: its content layer first, as ``Objective.layers``."""
    return (FINISH_CONTENT,) + tuple(l for l in finishing_style_layers() if l != FINISH_CONTENT)


def finishing_objective(ctx: Context, size, start: torch.Tensor) -> Objective:
    """L_finish at ``size`` (module docstring); ``start`` is the level below upsampled to ``size``, in
    the model's input space: its features at FINISH_CONTENT are the content target."""
    layers = (FINISH_CONTENT,)
    below = tiling.features(ctx.features_of(layers), start.detach(), ctx.plan(size, layers))[FINISH_CONTENT]
    fine = set(finishing_style_layers())
    terms = style_terms(ctx, size)
    for t in terms:   # the same targets, matched on the fine layers only
        t.targets = {l: v for l, v in t.targets.items() if l in fine}
    alpha = ctx.options.content_weight * FINISH_CONTENT_WEIGHT
    content = ContentTerm(below.detach(), FINISH_CONTENT) if alpha > 0 else None
    return Objective(content, terms, alpha, ctx.options.style_weight)
