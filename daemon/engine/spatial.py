"""Spatial control: guided Gram and guided sums (Gatys et al. 2017, §3).

Guided Gram (the quality method). With a region's guide t_r^l propagated to layer l and normalised
(``guides.normalise_guide``):
    F_r = F ∘ t_r^l,   G_r^l = F_r F_rᵀ / (H_l W_l)
and the region's target is the same guided Gram of its style image under its style guide:
    L_style = Σ_r w_r Σ_l (1e3 / C_l²) · MSE(G_r^l(x), G_r^l(s_r)),   w_r = 1 / R.
A region whose guide is empty at some layer is skipped at that layer.

Guided sums (the cheap method). One Gram of the feature maps stacked with the R guide channels: its
guide×feature block is the guided mean of every feature in every region, its feature×feature block
the plain Gram. We match the area-normalised guided means m_r^l = Σ_p t_r(p) F(p) / Σ_p t_r(p) per
region (weight 1e3 / C_l) and the plain Gram of the blended styles (weight 1e3 / C_l²): one Gram
per layer instead of R, with visibly lower texture quality.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import torch

from .guides import normalise_guide, propagate_guide
from .losses import gram, gram_loss, layer_weight
from .vgg import STYLE_LAYERS


@dataclass
class StyleTerm:
    """One part of the style loss: a region (or the whole image) and its per-layer targets."""

    kind: str                               # "gram" (plain or guided Gram) or "sums" (guided means)
    weight: float
    targets: Dict[str, torch.Tensor]        # layer -> target Gram (C×C) or guided means (C)
    guides: Dict[str, Optional[torch.Tensor]] = field(default_factory=dict)  # layer -> output-side guide
    label: str = "style"


def guided_gram(features: torch.Tensor, guide: Optional[torch.Tensor]) -> torch.Tensor:
    """G = (F∘t)(F∘t)ᵀ / (H W); the plain Gram when there is no guide."""
    return gram(features if guide is None else features * guide)


def guided_means(features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """m = Σ_p t(p) F(p) / Σ_p t(p), for every channel."""
    f = features[0].float()
    return (f * guide).sum(dim=(1, 2)) / guide.sum()


def propagated_guides(guide: Optional[torch.Tensor], kind: str, propagation: str,
                      grow: int) -> Dict[str, Optional[torch.Tensor]]:
    """Guides at each style layer, ready to use: normalised for Gram, raw for sums.
    A layer where the guide is empty is left out; None means 'no guide' (the whole image)."""
    if guide is None:
        return {layer: None for layer in STYLE_LAYERS}
    out = {}
    for layer, t in propagate_guide(guide, STYLE_LAYERS, propagation, grow).items():
        if kind == "sums":
            if float(t.sum()) > 1e-6:
                out[layer] = t
        else:
            n = normalise_guide(t)
            if n is not None:
                out[layer] = n
    return out


def style_targets(features: Dict[str, torch.Tensor], guides: Dict[str, Optional[torch.Tensor]],
                  kind: str) -> Dict[str, torch.Tensor]:
    """Targets of one style image under its (propagated) style guide."""
    targets = {}
    for layer, g in guides.items():
        f = features[layer]
        if kind == "sums":
            targets[layer] = guided_means(f, g) if g is not None else f[0].float().mean(dim=(1, 2))
        else:
            targets[layer] = guided_gram(f, g).detach()
    return targets


def term_loss(features: Dict[str, torch.Tensor], term: StyleTerm) -> torch.Tensor:
    loss = None
    for layer, target in term.targets.items():
        if layer not in term.guides:
            continue  # empty guide at this layer on the output side
        g = term.guides[layer]
        f = features[layer]
        if term.kind == "sums":
            m = guided_means(f, g) if g is not None else f[0].float().mean(dim=(1, 2))
            part = (1e3 / f.shape[1]) * torch.mean((m - target) ** 2)
        else:
            part = layer_weight(layer) * gram_loss(guided_gram(f, g), target)
        loss = part if loss is None else loss + part
    if loss is None:
        return torch.zeros((), device=next(iter(features.values())).device)
    return loss
