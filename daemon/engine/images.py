"""Image plumbing between numpy (uint8 H×W×3 RGB, float H×W masks) and tensors (1×3×H×W in [0, 1]),
and the checks that turn a bad image or mask into one sentence for the artist."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .errors import BadInput, EmptyRegion

MIN_INPUT_SIDE = 4


def check_image(name: str, img) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise BadInput(f"{name} must be an 8-bit RGB image")
    h, w = img.shape[:2]
    if min(h, w) < MIN_INPUT_SIDE:
        raise BadInput(f"{name} is too small ({w}×{h} pixels): each side needs at least {MIN_INPUT_SIDE}")


def check_mask(name: str, mask) -> None:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2 or mask.size == 0:
        raise BadInput(f"{name} must be a 2-D mask")
    if not np.all(np.isfinite(mask)):
        raise BadInput(f"{name} has values that are not finite numbers")
    if float(mask.max()) <= 1.0 / 255:
        raise EmptyRegion(f"{name} selects nothing (it is black everywhere)")


def to_tensor(img: np.ndarray, device) -> torch.Tensor:
    """uint8 H×W×3 -> 1×3×H×W float in [0, 1]."""
    return torch.from_numpy(np.array(img, copy=True)).to(device).permute(2, 0, 1)[None].float() / 255.0


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    return (rgb[0].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def resize(img: torch.Tensor, size) -> torch.Tensor:
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    return F.interpolate(img, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
