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


def gram(features: torch.Tensor) -> torch.Tensor:
    """G = F Fᵀ / (H W) for features of shape 1×C×H×W, always in fp32 (also under autocast: bf16
    or fp16 Grams lose the precision the loss needs). Works on either memory layout without a copy."""
    _, c, h, w = features.shape
    with torch.autocast(features.device.type, enabled=False):
        f = features.permute(0, 2, 3, 1).reshape(h * w, c)  # a view for channels_last
        return _SymmetricGram.apply(f) / (h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((features.float() - target) ** 2)


def gram_loss(g: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((g - target) ** 2)


def blend_grams(grams: Sequence[Dict[str, torch.Tensor]], weights: Sequence[float]) -> Dict[str, torch.Tensor]:
    """Blend per-layer Gram targets of several style images with weights normalised to sum 1."""
    total = float(sum(weights))
    return {layer: sum((w / total) * g[layer] for g, w in zip(grams, weights)) for layer in grams[0]}
