"""Content loss and Gram style loss (Gatys, Ecker, Bethge 2016, §2).

Content loss:  L_content = MSE(F^l(x), F^l(c)) at l = relu4_2.
Gram matrix:   G^l = F^l F^lᵀ / (H_l W_l)   (F^l is C_l × H_l W_l).
Style loss:    L_style = Σ_l w_l · MSE(G^l(x), Ĝ^l),  w_l = 1e3 / C_l²,
               l ∈ {relu1_1, relu2_1, relu3_1, relu4_1, relu5_1}.
Several style images: the target is the blend Ĝ^l = Σ_s b_s G^l(s) with Σ_s b_s = 1.
Total:         L = α L_content + β L_style.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch

from .vgg import CHANNELS


def layer_weight(layer: str) -> float:
    """The 2016 paper's per-layer style weight 1e3 / C_l²."""
    return 1e3 / CHANNELS[layer] ** 2


def gram(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (H W) for features of shape 1×C×H×W (computed in fp32)."""
    _, c, h, w = features.shape
    f = features.reshape(c, h * w).float()
    return (f @ f.t()) / (h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((features.float() - target) ** 2)


def gram_loss(g: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((g - target) ** 2)


def blend_grams(grams: Sequence[Dict[str, torch.Tensor]], weights: Sequence[float]) -> Dict[str, torch.Tensor]:
    """Blend per-layer Gram targets of several style images with weights normalised to sum 1."""
    total = float(sum(weights))
    return {layer: sum((w / total) * g[layer] for g, w in zip(grams, weights)) for layer in grams[0]}
