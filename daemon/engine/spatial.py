"""Style terms: the plain or guided Gram, and guided sums (Gatys et al. 2016, §2; 2017, §3).

A style term is one small part of the style loss, L_style = Σ_t w_t L_t. Each owns its per-layer
targets, its guides on the output and its loss, and splits that loss in two steps:

    statistics(F) -> per-layer statistic of the output (a Gram, or guided means)
    loss(stats)   -> Σ_l weight_l · MSE(stat_l, target_l)

Every statistic is a sum over feature positions divided by a count of the whole image (H_l W_l, or
Σ_p t(p) of the whole guide), so it can be added up tile by tile and the loss taken once from the sum.

Guided Gram (``GramTerm``, the quality method). With a region's guide t_r^l propagated to layer l and
normalised (``guides.normalise_guide``):
    F_r = F ∘ t_r^l,   G_r^l = F_r F_rᵀ / (H_l W_l)
and the region's target is the same guided Gram of its style image under its style guide:
    L_style = Σ_r w_r Σ_l (1e3 / C_l²) · MSE(G_r^l(x), G_r^l(s_r)),   w_r = 1 / R.
Without a guide it is the 2016 paper's plain Gram term (the whole image). A region whose guide is
empty at some layer is skipped at that layer: the term simply has no target there.

Guided sums (``SumsTerm``, the cheap method). One Gram of the feature maps stacked with the R guide
channels: its guide×feature block is the guided mean of every feature in every region, its
feature×feature block the plain Gram. We match the area-normalised guided means
m_r^l = Σ_p t_r(p) F(p) / Σ_p t_r(p) per region (weight 1e3 / C_l) and the plain Gram of the blended
styles (weight 1e3 / C_l², a plain ``GramTerm``): one Gram per layer instead of R, with visibly lower
texture quality.
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import ClassVar, Dict, Optional

import torch

from .guides import normalise_guide, propagate_guide
from .losses import gram, gram_loss, layer_weight
from .vgg import CHANNELS, STYLE_LAYERS

Guides = Dict[str, torch.Tensor]   # layer -> guide at that layer's size; a layer left out is empty there


def guided_gram(features: torch.Tensor, guide: Optional[torch.Tensor], count: Optional[int] = None) -> torch.Tensor:
    """G = (F∘t)(F∘t)ᵀ / (H W); the plain Gram when there is no guide. ``count`` replaces H W for a
    tile's part of the image (its guide is then the tile's part of the guide)."""
    return gram(features if guide is None else features * guide, count)


def guided_means(features: torch.Tensor, guide: Optional[torch.Tensor], mass=None) -> torch.Tensor:
    """m = Σ_p t(p) F(p) / Σ_p t(p), for every channel; the plain mean when there is no guide.
    ``mass`` replaces the divisor (Σ_p t(p), or H W) for a tile's part of the image."""
    f = features[0].float()
    if guide is None:
        return f.sum(dim=(1, 2)) / (f.shape[1] * f.shape[2] if mass is None else mass)
    return (f * guide).sum(dim=(1, 2)) / (guide.sum() if mass is None else mass)


def _take(part, layer: str, guide: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    return guide if part is None or guide is None else part.take(layer, guide)


def _layer_sum(parts) -> torch.Tensor:
    """Σ over the layers' parts, in layer order."""
    return functools.reduce(operator.add, parts)


def _no_loss(features: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The loss of a term whose guide is empty at every layer."""
    return torch.zeros((), device=next(iter(features.values())).device)


@dataclass
class GramTerm:
    """Plain or guided Gram matching at each layer of ``targets``."""

    kind: ClassVar[str] = "gram"             # names the term in cache keys
    targets: Dict[str, torch.Tensor]         # layer -> target Gram (C×C); only the layers matched
    guides: Optional[Guides] = None          # layer -> normalised output guide; None = the whole image
    weight: float = 1.0
    label: str = "style"

    def __post_init__(self):
        if self.guides is not None:  # an empty output guide at a layer: nothing to match there
            self.targets = {l: t for l, t in self.targets.items() if l in self.guides}

    @staticmethod
    def layer_guides(guide: torch.Tensor, propagation: str, grow: int) -> Guides:
        """An image-sized guide carried to every style layer and normalised (empty layers left out)."""
        out = {}
        for layer, t in propagate_guide(guide, STYLE_LAYERS, propagation, grow).items():
            n = normalise_guide(t)
            if n is not None:
                out[layer] = n
        return out

    @staticmethod
    def targets_of(features: Dict[str, torch.Tensor], guides: Optional[Guides]) -> Dict[str, torch.Tensor]:
        """Targets of one style image under its style guide (None: the plain Gram at every style layer)."""
        if guides is None:
            return {l: guided_gram(features[l], None).detach() for l in STYLE_LAYERS}
        return {l: guided_gram(features[l], g).detach() for l, g in guides.items()}

    def statistics(self, features: Dict[str, torch.Tensor], part=None) -> Dict[str, torch.Tensor]:
        """G_l of the features (of a tile's ``part``: its share, Σ over its positions / the whole H_l W_l)."""
        return {l: guided_gram(features[l], _take(part, l, None if self.guides is None else self.guides[l]),
                               None if part is None else part.count(l)) for l in self.targets}

    def loss(self, stats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ_l (1e3 / C_l²) · MSE(G_l, Ĝ_l)."""
        return _layer_sum(layer_weight(l) * gram_loss(stats[l], t) for l, t in self.targets.items())

    def __call__(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.loss(self.statistics(features)) if self.targets else _no_loss(features)


@dataclass
class SumsTerm:
    """Guided-means matching of one region at each layer of ``targets`` (the guided-sums method)."""

    kind: ClassVar[str] = "sums"
    targets: Dict[str, torch.Tensor]         # layer -> target guided means (C); only the layers matched
    guides: Optional[Guides]                 # layer -> raw (unnormalised) output guide; None = plain means
    weight: float = 1.0
    label: str = "style"

    def __post_init__(self):
        if self.guides is not None:
            self.targets = {l: t for l, t in self.targets.items() if l in self.guides}
            self._mass = {l: g.sum() for l, g in self.guides.items()}   # Σ_p t(p) over the whole image

    @staticmethod
    def layer_guides(guide: torch.Tensor, propagation: str, grow: int) -> Guides:
        """An image-sized guide carried to every style layer, as it is (empty layers left out)."""
        return {layer: t for layer, t in propagate_guide(guide, STYLE_LAYERS, propagation, grow).items()
                if float(t.sum()) > 1e-6}

    @staticmethod
    def targets_of(features: Dict[str, torch.Tensor], guides: Optional[Guides]) -> Dict[str, torch.Tensor]:
        """Guided means of one style image under its style guide (None: plain means at every layer)."""
        if guides is None:
            return {l: guided_means(features[l], None) for l in STYLE_LAYERS}
        return {l: guided_means(features[l], g) for l, g in guides.items()}

    def statistics(self, features: Dict[str, torch.Tensor], part=None) -> Dict[str, torch.Tensor]:
        """m_l of the features (of a tile's ``part``: its share, divided by the whole guide's mass)."""
        if self.guides is None:
            return {l: guided_means(features[l], None, None if part is None else part.count(l)) for l in self.targets}
        return {l: guided_means(features[l], _take(part, l, self.guides[l]), None if part is None else self._mass[l])
                for l in self.targets}

    def loss(self, stats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Σ_l (1e3 / C_l) · MSE(m_l, m̂_l)."""
        return _layer_sum((1e3 / CHANNELS[l]) * torch.mean((stats[l] - t) ** 2) for l, t in self.targets.items())

    def __call__(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        return self.loss(self.statistics(features)) if self.targets else _no_loss(features)
