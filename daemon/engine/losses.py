"""Content loss and Gram style loss (Gatys, Ecker, Bethge 2016, §2).

Content loss:  L_content = MSE(F^l(x), F^l(c)) at l = relu4_2.
Gram matrix:   G^l = F^l F^lᵀ / (H_l W_l)   (F^l is C_l × H_l W_l).
Style loss:    L_style = Σ_l w_l · MSE(G^l(x), Ĝ^l),  w_l = 1e3 / C_l²,
               l ∈ {relu1_1, relu2_1, relu3_1, relu4_1, relu5_1}.
Several style images: the target is the blend Ĝ^l = Σ_s b_s G^l(s) with Σ_s b_s = 1.
Total:         L = α L_content + β Σ_t w_t L_t   (``Objective``)

The total is composed of small terms, as crowsonkb/style-transfer-pytorch composes its loss: one
``ContentTerm`` and any number of style terms (``spatial.GramTerm``, ``spatial.SumsTerm``), each a
callable from the network's features to its loss that owns its own targets.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Protocol, Sequence, Tuple

import torch

from .vgg import CHANNELS, CONTENT_LAYERS, STYLE_LAYERS


def layer_weight(layer: str) -> float:
    """The 2016 paper's per-layer style weight 1e3 / C_l²."""
    return 1e3 / CHANNELS[layer] ** 2


class _SymmetricGram(torch.autograd.Function):
    """G = Fᵀ F for F of shape N×C (N positions), computed in fp32 whatever F's dtype. Its backward
    uses G's symmetry: dL/dF = F (dG + dGᵀ), one matrix product where autograd's generic rule takes
    two, and it is done in F's own dtype: under bf16 autocast F's gradient is bf16 anyway, so an fp32
    product would only be rounded afterwards (and cost a cast of F and of the result)."""

    @staticmethod
    def forward(ctx, f):
        ctx.save_for_backward(f)
        f32 = f if f.dtype in (torch.float32, torch.float64) else f.float()
        return f32.t() @ f32

    @staticmethod
    def backward(ctx, grad):
        (f,) = ctx.saved_tensors
        return f @ (grad + grad.t()).to(f.dtype)


def gram(features: torch.Tensor, count: Optional[int] = None) -> torch.Tensor:
    """G = F Fᵀ / (H W) for features of shape 1×C×H×W, always in fp32 (also under autocast: bf16
    or fp16 Grams lose the precision the loss needs). Works on either memory layout without a copy.
    ``count`` replaces H W when the features are one tile's part of a larger image (``tiling``)."""
    _, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        f = features.permute(0, 2, 3, 1).reshape(h * w, c)  # a view for channels_last
        return _SymmetricGram.apply(f) / (h * w if count is None else count)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((features.float() - target) ** 2)


def gram_loss(g: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((g - target) ** 2)


def blend_grams(grams: Sequence[Dict[str, torch.Tensor]], weights: Sequence[float]) -> Dict[str, torch.Tensor]:
    """Blend per-layer Gram targets of several style images with weights normalised to sum 1."""
    total = float(sum(weights))
    return {layer: sum((w / total) * g[layer] for g, w in zip(grams, weights)) for layer in grams[0]}


# ---- the objective, composed of terms ------------------------------------------------------------
Features = Dict[str, torch.Tensor]   # layer name -> 1×C×H×W activations


Stats = Dict[str, torch.Tensor]      # layer -> a term's statistic (a sum over positions / a whole-image count)


class Part(Protocol):
    """Which part of the image a tile's features are (``tiling.Tile``); None everywhere = the whole image."""

    def take(self, layer: str, full: torch.Tensor) -> torch.Tensor: ...   # the tile's part of an image-sized map
    def count(self, layer: str) -> int: ...                              # positions of the whole image's map


class StyleTerm(Protocol):
    """What the objective needs of a style term (``spatial.GramTerm``, ``spatial.SumsTerm``)."""

    targets: Dict[str, torch.Tensor]   # layer -> target statistic; the layers the term matches
    weight: float
    label: str

    def statistics(self, features: Features, part: Optional[Part] = None) -> Stats: ...
    def loss(self, stats: Stats) -> torch.Tensor: ...
    def __call__(self, features: Features) -> torch.Tensor: ...


@dataclass
class ContentTerm:
    """L_content = MSE(F^l(x), F^l(c)) at l = relu4_2, as the statistic Σ_p |F_p − P_p|² / numel."""

    target: torch.Tensor
    layer: str = CONTENT_LAYERS[0]

    def statistics(self, features: Features, part: Optional[Part] = None) -> Stats:
        target = self.target if part is None else part.take(self.layer, self.target)
        return {self.layer: torch.sum((features[self.layer].float() - target) ** 2) / self.target.numel()}

    def loss(self, stats: Stats) -> torch.Tensor:
        return stats[self.layer]

    def __call__(self, features: Features) -> torch.Tensor:
        return content_loss(features[self.layer], self.target)


class Losses(NamedTuple):
    total: torch.Tensor
    content: torch.Tensor
    style: torch.Tensor
    parts: List[torch.Tensor]          # w_t L_t of each style term, in the objective's order


@dataclass
class Objective:
    """L = α L_content + β Σ_t w_t L_t over the features of one image; no content term when α = 0."""

    content: Optional[ContentTerm]
    style: List[StyleTerm]
    content_weight: float = 1.0
    style_weight: float = 1.0

    @property
    def layers(self) -> Tuple[str, ...]:
        """The layers the terms read (the network runs only as deep as the deepest of them)."""
        used = {layer for term in self.style for layer in term.targets}
        head = (self.content.layer,) if self.content is not None else ()
        return head + tuple(l for l in STYLE_LAYERS if l in used and l not in head)

    def statistics(self, features: Features, part: Optional[Part] = None) -> List[Stats]:
        """Every term's statistics, the content term's first ({} without one). Of a tile's features
        (``part``), they are that tile's share: the whole image's are the sum over the tiles."""
        head = self.content.statistics(features, part) if self.content is not None else {}
        return [head] + [t.statistics(features, part) for t in self.style]

    def losses(self, stats: List[Stats], device) -> Losses:
        """L from the whole image's statistics."""
        zero = torch.zeros((), device=device)
        c = self.content.loss(stats[0]) if self.content is not None else zero
        parts = [t.weight * t.loss(st) if st else zero for t, st in zip(self.style, stats[1:])]
        s = sum(parts) if parts else zero
        return Losses(self.content_weight * c + self.style_weight * s, c, s, parts)

    def __call__(self, features: Features) -> Losses:
        device = next(iter(features.values())).device
        c = self.content(features) if self.content is not None else torch.zeros((), device=device)
        parts = [t.weight * t(features) for t in self.style]
        s = sum(parts) if parts else torch.zeros((), device=device)
        return Losses(self.content_weight * c + self.style_weight * s, c, s, parts)
