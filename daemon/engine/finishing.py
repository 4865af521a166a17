"""Finishing levels: full-size detail on top of a working-size result (Gatys et al. 2017, §5).

The 2017 paper's high-resolution procedure runs the transfer at a working size, upsamples the result
and continues at the higher resolution: "the high-resolution pass keeps the low-resolution
structure and adds fine texture" (the authors ran 512² × 500 steps, then 1024² × 200). Above the
working size, the structures that the deep layers (relu4_1, relu5_1) describe are already in place;
what an upsampled image lacks is the style's fine statistics at the output's own pixels. So a
finishing level at size n starts from the level below upsampled, x₀ = up(x_{n−1}), and optimises

    L_finish(x) = β Σ_{l ≤ cut} w_l · MSE(G^l(x), Ĝ^l(s_n)),   l ∈ {relu1_1 … ``FINISH_CUT``}

the ordinary (guided) Gram loss on the fine layers only, with targets from the style image at the
level's pixels × style scale, never above its own pixels (``scale.style_size``). The structure is
kept by the start and by the layers: a few steps of losses whose receptive fields span a few dozen
pixels add brushwork, they do not move houses. Measured (BENCHMARKS.md, "Finishing levels: what
they optimise"): a content term holding the level below's relu3_1 features (α_f = α) left the fine
statistics further from the painting's and cost 10 % more time; L-BFGS's pyramid metric, which
favours large-scale moves, did the same, so a finishing level runs plain L-BFGS (``FINISH_METRIC``);
stopping at relu2_1 was cheaper but left the texture flat.

The network then runs only to ``FINISH_CUT``, whose step costs about two thirds of a full one at
1024 px on a CPU, and whose small halo makes tiles cheap: that is what lets a 12-megapixel layer
finish in minutes.
"""
from __future__ import annotations

from typing import Tuple

from .job import Context
from .losses import Objective
from .targets import style_terms
from .vgg import STYLE_LAYERS

FINISH_CUT = "relu3_1"            # the deepest style layer a finishing level matches
FINISH_METRIC = False             # plain L-BFGS: the pyramid metric favours the large-scale moves that the level
                                  # below has made; without it the steps go into fine detail (BENCHMARKS.md)


def finishing_layers() -> Tuple[str, ...]:
    """The layers a finishing level's objective reads."""
    return tuple(l for l in STYLE_LAYERS if l <= FINISH_CUT)


def finishing_objective(ctx: Context, size) -> Objective:
    """L_finish at ``size`` (module docstring): the job's style terms, matched on the fine layers."""
    fine = set(finishing_layers())
    terms = style_terms(ctx, size)
    for t in terms:   # the same targets (cached), matched on the fine layers only
        t.targets = {l: v for l, v in t.targets.items() if l in fine}
    return Objective(None, terms, 0.0, ctx.options.style_weight)
