"""Guide propagation: a region's mask, carried from image pixels to every VGG layer
(Gatys et al. 2017, §3 "Spatial control"; authors' code, NeuralImageSynthesis).

A guide T (H×W, values in [0, 1]) is propagated layer by layer through VGG-19's sequence of 3×3
convolutions and 2×2 poolings:

- ``simple``: the guide follows only the poolings (2×2 average, so soft/feathered guides keep their
  grey values); convolutions leave it as it is.
- ``inside``: keep only neurons whose whole receptive field lies inside the region: binarise at 0.5,
  then an erosion (min-pool) with each convolution's 3×3 window and each pooling's 2×2 window. This is
  what stops texture from one region leaking into its neighbour.
- ``all``: keep neurons that see any part of the region: binarise at 0.5, then a dilation (max-pool)
  with the same windows.

For binary guides, inside ⊆ simple ⊆ all at every layer. Afterwards a guide may be grown (+k: dilation)
or shrunk (−k: erosion) by k feature-map pixels. Image borders count as inside (replicate padding), as
the convolution's zero padding carries no region information.

Guide normalisation (authors' code): each propagated guide is divided by sqrt(mean(t²)), so the guided
Gram of a binary region is Σ_{p∈region} F_p F_pᵀ / |region|: a small region pulls as hard as a large one.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from .vgg import LAYER_INDEX, LAYERS


def _erode(t: torch.Tensor, k: int, stride: int = 1) -> torch.Tensor:
    return -_dilate(-t, k, stride)


def _dilate(t: torch.Tensor, k: int, stride: int = 1) -> torch.Tensor:
    """Max over a k×k window (t is 1×1×H×W). Stride 1 keeps the size (replicate padding)."""
    if stride == 1:
        lo, hi = (k - 1) // 2, k // 2
        t = F.pad(t, (lo, hi, lo, hi), mode="replicate")
    return F.max_pool2d(t, k, stride)


def propagate_guide(guide: torch.Tensor, layers: Iterable[str], mode: str = "simple",
                    grow: int = 0) -> Dict[str, torch.Tensor]:
    """Propagate an image-sized guide (H×W) to ``layers``; returns layer -> h_l×w_l guide."""
    wanted = set(layers)
    last = max(LAYER_INDEX[n] for n in wanted)
    t = guide.float().reshape(1, 1, *guide.shape[-2:])
    if mode in ("inside", "all"):
        t = (t >= 0.5).float()
    out: Dict[str, torch.Tensor] = {}
    for name, kind, _ in LAYERS[: last + 1]:
        if kind == "conv":
            if mode == "inside":
                t = _erode(t, 3)
            elif mode == "all":
                t = _dilate(t, 3)
        elif kind == "pool":
            if mode == "inside":
                t = _erode(t, 2, stride=2)
            elif mode == "all":
                t = _dilate(t, 2, stride=2)
            else:
                t = F.avg_pool2d(t, 2, 2)
        if name in wanted:
            g = t
            if grow > 0:
                g = _dilate(g, 2 * grow + 1)
            elif grow < 0:
                g = _erode(g, 2 * (-grow) + 1)
            out[name] = g[0, 0]
    return out


def normalise_guide(t: torch.Tensor) -> Optional[torch.Tensor]:
    """t / sqrt(mean(t²)); None when the guide is empty at this layer (the region is skipped there)."""
    ms = float(torch.mean(t.float() ** 2))
    if ms <= 1e-12:
        return None
    return t / ms ** 0.5


def mask_to_tensor(mask, size, device) -> torch.Tensor:
    """A float H×W numpy mask in [0,1] (any size) -> h×w tensor at ``size`` (antialiased resize)."""
    t = torch.tensor(np.asarray(mask, dtype=np.float32), device=device)[None, None]
    if tuple(t.shape[-2:]) != tuple(size):
        t = F.interpolate(t, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return t[0, 0].clamp(0.0, 1.0)


def coverage(regions, size, device):
    """Where ``regions`` put style, soft in [0, 1] at ``size``: Σ of their content masks, clamped;
    None without regions (everywhere). The finish composites with it; a warm start re-masks with it."""
    if not regions:
        return None
    return sum(mask_to_tensor(r.content_mask, size, device) for r in regions).clamp(0, 1)
